using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// WebDataset tar shards (<c>data.tar</c>) through <c>explain run</c>: the committed shards (tools/make_tar_fixture.py, Python's
/// tarfile) hold the 18 small images as KEY.png beside KEY.cls; a folder, a manifest and the tars of the same images give the
/// same outputs.
/// </summary>
public sealed class ImageTarCliTests
{
    private const string Transforms = """[{ "grayscale": { } }, { "toTensor": { } }, { "normalize": { "mean": [0.286], "std": [0.353] } }]""";

    [Fact]
    public async Task Run_FolderManifestAndTar_GiveIdenticalOutputs()
    {
        var folder = TestPaths.NewFolder();
        var small = TestPaths.Fixture("images/small");
        var files = Directory.GetFiles(small, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
        await File.WriteAllLinesAsync(Path.Combine(folder, "manifest.csv"),
            ["path,label", .. files.Select(f => $"{f},{Path.GetFileName(Path.GetDirectoryName(f))}")]);
        var outputs = new Dictionary<string, string>();
        foreach (var (name, data) in new[]
        {
            ("folder", $$"""{ "images": "{{small}}", "labels": "folders" """),
            ("manifest", """{ "manifest": "manifest.csv", "path": "path", "label": "label" """),
            ("tar", $$"""{ "tar": "{{TestPaths.Fixture("images/tar")}}" """),
        })
        {
            var job = Path.Combine(folder, $"{name}.json");
            await File.WriteAllTextAsync(job, $$"""
                {
                  "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
                  "data": {{data}}, "transforms": {{Transforms}} },
                  "methods": { "saliency": {}, "smooth-grad": { "samples": 3, "seed": 7 } },
                  "shardSize": 7,
                  "output": "{{name}}"
                }
                """);
            var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
            Assert.True(run.ExitCode == 0, run.ToString());
            outputs[name] = Path.Combine(folder, name);
        }
        var expected = await DigestAsync(outputs["folder"]);
        Assert.Contains("\"samples\": 18", expected);
        Assert.Equal(expected, await DigestAsync(outputs["manifest"]));
        Assert.Equal(expected, await DigestAsync(outputs["tar"]));
        using var summary = Jobs.ReadJson(Path.Combine(outputs["tar"], "summary.json"));
        Assert.True(summary.RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble() >= 0); // labels came from the .cls members
    }

    [Fact]
    public async Task Run_TarWithCorruptMembersAndSkip_RecordsThemByMember()
    {
        // The committed shard 0's samples with two corrupt images among them, written by .NET's tar writer.
        var folder = TestPaths.NewFolder();
        var tar = Path.Combine(folder, "shard.tar");
        var source = TestPaths.Fixture("images/tar/shard-00000.tar");
        await using (var input = File.OpenRead(source))
        await using (var reader = new System.Formats.Tar.TarReader(input))
        await using (var written = File.Create(tar))
        await using (var writer = new System.Formats.Tar.TarWriter(written, System.Formats.Tar.TarEntryFormat.Pax))
        {
            var n = 0;
            while (await reader.GetNextEntryAsync(copyData: true) is { } entry)
            {
                await writer.WriteEntryAsync(entry);
                if (entry.Name.EndsWith(".cls", StringComparison.Ordinal) && ++n is 2 or 5)
                {
                    var (name, fixture) = n == 2 ? ("Bad_0001", "truncated.jpg") : ("Bad_0002", "not_an_image.png");
                    await writer.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, $"{name}{Path.GetExtension(fixture)}")
                        { DataStream = File.OpenRead(TestPaths.Fixture($"images/corrupt/{fixture}")) });
                    await writer.WriteEntryAsync(new System.Formats.Tar.PaxTarEntry(System.Formats.Tar.TarEntryType.RegularFile, $"{name}.cls")
                        { DataStream = new MemoryStream("0"u8.ToArray()) });
                }
            }
        }
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Sample("model.pt")}}" }, "data": { "tar": "shard.tar", "onBadSample": "skip", "transforms": {{Transforms}} },
              "methods": { "saliency": {} }, "shardSize": 4, "output": "out" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        var output = Path.Combine(folder, "out");
        var (index, path, kind) = (new List<long>(), new List<string?>(), new List<string?>());
        var samples = new List<long>();
        for (var s = 0; s < 3; s++)
        {
            var part = Path.Combine(output, "errors", $"part-{s:D5}.parquet");
            index.AddRange(await ParquetRows.ReadLongsAsync(part, "index"));
            path.AddRange(await ParquetRows.ReadStringsAsync(part, "path"));
            kind.AddRange(await ParquetRows.ReadStringsAsync(part, "kind"));
            samples.AddRange((await ParquetRows.ReadAsync(Path.Combine(output, "samples", $"part-{s:D5}.parquet"))).Index);
        }
        // Samples in tar order: two good ones, then Bad_0001 (index 2), three good, Bad_0002 (index 6), five good.
        Assert.Equal([2L, 6], index);
        Assert.Equal([$"{tar}#Bad_0001.jpg", $"{tar}#Bad_0002.png"], path);
        Assert.Equal(["truncated", "unsupported"], kind);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)i).Except([2L, 6]), samples);
    }

    [Fact]
    public async Task Run_TarThatIsNotATar_FailsInOneLine()
    {
        var folder = TestPaths.NewFolder();
        var tar = Path.Combine(folder, "shard.tar");
        await File.WriteAllBytesAsync(tar, [.. Enumerable.Range(0, 1024).Select(i => (byte)(i * 7))]);
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Sample("model.pt")}}" }, "data": { "tar": "shard.tar", "transforms": {{Transforms}} },
              "methods": { "saliency": {} }, "output": "out" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Equal($"error: data.tar: {tar}: not a tar file (the header at byte 0 fails its checksum)", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
    }

    /// <summary>summary.json and its arrays, then every samples part's rows and every map part's bytes, in shard order.</summary>
    internal static async Task<string> DigestAsync(string output)
    {
        var lines = new List<string> { Jobs.Summary(output) };
        for (var s = 0; s < 3; s++)
        {
            var rows = await ParquetRows.ReadAsync(Path.Combine(output, "samples", $"part-{s:D5}.parquet"));
            lines.Add(string.Join(' ', rows.Index.Select((i, r) => $"{i}:{rows.Label[r]}:{rows.Prediction[r]}")));
            foreach (var method in new[] { "saliency", "smooth-grad" })
                lines.Add(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                    await File.ReadAllBytesAsync(Path.Combine(output, "attributions", method, $"part-{s:D5}.npy")))));
        }
        return string.Join('\n', lines);
    }
}
