using System.Text.Json;
using System.Text.Json.Nodes;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// <c>"onBadSample": "skip"</c> through <c>explain run</c>: the committed corrupt fixtures placed among the 18 small Fashion-MNIST
/// PNGs, recorded in the errors tables, counted in summary.json and the report, left out of everything else.
/// </summary>
public sealed class ImageSkipCliTests
{
    private const string Transforms = """[{ "grayscale": { } }, { "toTensor": { } }, { "normalize": { "mean": [0.286], "std": [0.353] } }]""";

    /// <summary>Where each corrupt fixture goes in the ImageFolder tree (sorted by path: each lands among its class's good images).</summary>
    private static readonly (string Fixture, string Placed, string Kind)[] Bad =
    [
        ("not_an_image.png", "Bag/0019.png", "unsupported"),
        ("truncated.jpg", "Sneaker/0010.jpg", "truncated"),
        ("bomb.png", "Trouser/0004.png", "oversize"),
    ];

    [Fact]
    public async Task Run_SkipWithCorruptImages_ListsThemCountsThemAndLeavesThemOut()
    {
        var folder = TestPaths.NewFolder();
        var images = CopyImages(folder, withBad: true);
        var run = await RunAsync(folder, images, "out", shardSize: 7);
        Assert.True(run.ExitCode == 0, run.ToString());
        var output = Path.Combine(folder, "out");

        // The dataset is the 21 files sorted by path; the bad ones' indices follow from that order.
        var files = ListedFiles(images);
        var expected = Bad.Select(b => (Index: (long)Array.IndexOf(files, Path.Combine(images, b.Placed)), Path: Path.Combine(images, b.Placed), b.Kind)).ToArray();
        Assert.All(expected, e => Assert.True(e.Index >= 0));
        var errors = await ErrorsAsync(output, shards: 3);
        Assert.Equal(expected.Select(e => (e.Index, (string?)e.Path, (string?)e.Kind)), errors.Select(e => (e.Index, e.Path, e.Kind)));
        Assert.Contains("truncated: the file ends before the image does", errors.Single(e => e.Kind == "truncated").Reason);
        Assert.Contains("above Limits:MaxSampleBytes", errors.Single(e => e.Kind == "oversize").Reason);

        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        Assert.Equal(18, summary.RootElement.GetProperty("samples").GetInt64());
        var bad = summary.RootElement.GetProperty("badSamples");
        Assert.Equal(3, bad.GetProperty("skipped").GetInt64());
        Assert.Equal(new[] { "unsupported", "oversize", "truncated" }.Order(), bad.GetProperty("byKind").EnumerateObject().Select(p => p.Name).Order());
        Assert.All(bad.GetProperty("byKind").EnumerateObject(), p => Assert.Equal(1, p.Value.GetInt64()));
        Assert.Equal(expected.Select(e => e.Index), bad.GetProperty("first").EnumerateArray().Select(f => f.GetProperty("index").GetInt64()));

        // Every per-sample table holds the 18 good images and none of the bad: samples, logits, maps.
        var indices = new List<long>();
        long logitRows = 0, mapRows = 0;
        for (var s = 0; s < 3; s++)
        {
            indices.AddRange((await ParquetRows.ReadAsync(Path.Combine(output, "samples", $"part-{s:D5}.parquet"))).Index);
            logitRows += await NpyFiles.RowsAsync(Path.Combine(output, "logits", $"part-{s:D5}.npy"));
            mapRows += await NpyFiles.RowsAsync(Path.Combine(output, "attributions", "saliency", $"part-{s:D5}.npy"));
        }
        Assert.Equal(Enumerable.Range(0, 21).Select(i => (long)i).Except(expected.Select(e => e.Index)), indices);
        Assert.Equal(18, logitRows);
        Assert.Equal(18, mapRows);

        var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json"));
        Assert.Equal("completed", manifest.RootElement.GetProperty("status").GetString());
        var report = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        Assert.Contains("Skipped images", report);
        Assert.Contains("3 images could not be read", report);
        Assert.Contains(System.Net.WebUtility.HtmlEncode(expected[0].Path), report);
    }

    [Fact]
    public async Task Run_SkipShardedInThree_EqualsOneShardByteForByte()
    {
        var folder = TestPaths.NewFolder();
        var images = CopyImages(folder, withBad: true);
        // smooth-grad on a stratified subset: the selection pass and the per-sample seeds must see the same good samples either way.
        const string methods = """{ "saliency": {}, "smooth-grad": { "samples": 3, "seed": 7, "subset": { "perClass": 1, "seed": 3 } } }""";
        var single = await RunAsync(folder, images, "single", shardSize: 21, methods: methods);
        var sharded = await RunAsync(folder, images, "sharded", shardSize: 7, methods: methods);
        Assert.True(single.ExitCode == 0, single.ToString());
        Assert.True(sharded.ExitCode == 0, sharded.ToString());
        var (a, b) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        // Byte for byte but for where each highest-loss sample lies in the output (its shard and row), which is the sharding's own.
        Assert.Equal(WithoutPlaces(Jobs.Summary(a)), WithoutPlaces(Jobs.Summary(b)));
        Assert.Equal(await SamplesAsync(a, 1), await SamplesAsync(b, 3));
        Assert.Equal(await ErrorsAsync(a, 1), await ErrorsAsync(b, 3));
    }

    [Fact]
    public async Task Run_MoreBadThanMaxBadSamples_FailsInOneLineAndCompletesNothing()
    {
        var folder = TestPaths.NewFolder();
        var images = CopyImages(folder, withBad: true);
        var run = await RunAsync(folder, images, "out", shardSize: 7, maxBad: 2);
        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith("error: data: 3 images could not be read, more than data.maxBadSamples (2); the first: ", line);
        Assert.Contains(Path.Combine(images, Bad[0].Placed), line);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        using var manifest = Jobs.ReadJson(Path.Combine(folder, "out", "manifest.json"));
        Assert.Equal("failed", manifest.RootElement.GetProperty("status").GetString());
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
        Assert.False(Directory.Exists(Path.Combine(folder, "out", "errors")));

        // At the limit exactly, the job completes.
        var at = await RunAsync(folder, images, "at-limit", shardSize: 7, maxBad: 3);
        Assert.True(at.ExitCode == 0, at.ToString());
    }

    [Fact]
    public async Task Run_SkipWithCorruptImages_StatisticsEqualThoseOfTheCleanFolder()
    {
        var folder = TestPaths.NewFolder();
        var dirty = CopyImages(Path.Combine(folder, "dirty"), withBad: true);
        var clean = CopyImages(Path.Combine(folder, "clean"), withBad: false);
        const string methods = """{ "saliency": {}, "grad-x-input": {} }""";
        var skipped = await RunAsync(folder, dirty, "skipped", shardSize: 64, methods: methods);
        var plain = await RunAsync(folder, clean, "plain", shardSize: 64, methods: methods, skip: false);
        Assert.True(skipped.ExitCode == 0, skipped.ToString());
        Assert.True(plain.ExitCode == 0, plain.ToString());
        var (a, b) = (Path.Combine(folder, "skipped"), Path.Combine(folder, "plain"));

        // The skipped run's dataset index of each clean index: the good files in the dirty folder's order.
        var dirtyFiles = ListedFiles(dirty);
        var good = dirtyFiles.Select((f, i) => (f, i)).Where(x => !Bad.Any(b => x.f.EndsWith(b.Placed, StringComparison.Ordinal))).Select(x => (long)x.i).ToArray();
        Assert.Equal(18, good.Length);

        // summary.json: equal once the skipped run's badSamples is taken away and its indices are mapped to the clean folder's.
        var skippedSummary = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(a, "summary.json")))!.AsObject();
        Assert.Equal(3, skippedSummary["badSamples"]!["skipped"]!.GetValue<long>());
        skippedSummary.Remove("badSamples");
        foreach (var entry in skippedSummary["errorAnalysis"]!["highestLoss"]!.AsArray())
            entry!["index"] = Array.IndexOf(good, entry["index"]!.GetValue<long>());
        var plainSummary = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(b, "summary.json")))!.AsObject();
        Assert.Null(plainSummary["badSamples"]);
        plainSummary.Remove("badSamples");
        Assert.Equal(plainSummary.ToJsonString(), skippedSummary.ToJsonString());
        foreach (var array in Directory.GetFiles(Path.Combine(b, "summary")))
            Assert.Equal(await File.ReadAllBytesAsync(array), await File.ReadAllBytesAsync(Path.Combine(a, "summary", Path.GetFileName(array))));

        // The samples table: the same rows, the index column mapped; the maps the same bytes.
        var (rowsA, rowsB) = (await ParquetRows.ReadAsync(Path.Combine(a, "samples", "part-00000.parquet")), await ParquetRows.ReadAsync(Path.Combine(b, "samples", "part-00000.parquet")));
        Assert.Equal(good, rowsA.Index);
        Assert.Equal(rowsB.Prediction, rowsA.Prediction);
        Assert.Equal(rowsB.Correct, rowsA.Correct);
        Assert.Equal(await ParquetRows.ReadFloatsAsync(Path.Combine(b, "samples", "part-00000.parquet"), "saliency_mean_abs"),
            await ParquetRows.ReadFloatsAsync(Path.Combine(a, "samples", "part-00000.parquet"), "saliency_mean_abs"));
        foreach (var method in new[] { "saliency", "grad-x-input" })
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(b, "attributions", method, "part-00000.npy")),
                await File.ReadAllBytesAsync(Path.Combine(a, "attributions", method, "part-00000.npy")));
    }

    [Fact]
    public async Task Run_SkipWithManifestWhoseFirstImageIsMissing_RecordsItAndKeepsMetadataAligned()
    {
        var folder = TestPaths.NewFolder();
        var small = TestPaths.Fixture("images/small");
        var manifest = Path.Combine(folder, "manifest.csv");
        // Six rows: the first names no file (the samples' shape then comes from the second); each row's site is its position,
        // so a misaligned row would show.
        var paths = Directory.GetFiles(Path.Combine(small, "Bag")).Order(StringComparer.Ordinal).Take(5).ToList();
        paths.Insert(0, Path.Combine(small, "Bag", "missing.png"));
        await File.WriteAllLinesAsync(manifest, ["path,site", .. paths.Select((p, i) => $"{p},s{i}")]);
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            {
              "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
              "data": { "manifest": "manifest.csv", "path": "path", "metadata": ["site"], "onBadSample": "skip", "transforms": {{Transforms}} },
              "methods": { "saliency": {} },
              "shardSize": 4,
              "output": "out"
            }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        var output = Path.Combine(folder, "out");
        var error = Assert.Single(await ErrorsAsync(output, shards: 2));
        Assert.Equal((0L, paths[0], "missing", "does not exist"), (error.Index, error.Path, error.Kind, error.Reason));
        var sites = new List<string?>();
        var indices = new List<long>();
        for (var s = 0; s < 2; s++)
        {
            var part = Path.Combine(output, "samples", $"part-{s:D5}.parquet");
            sites.AddRange(await ParquetRows.ReadStringsAsync(part, "site"));
            indices.AddRange((await ParquetRows.ReadAsync(part)).Index);
        }
        Assert.Equal([1L, 2, 3, 4, 5], indices);
        Assert.Equal(["s1", "s2", "s3", "s4", "s5"], sites);
    }

    [Fact]
    public async Task Run_ShardWithNoReadableImage_FailsInOneLine()
    {
        var folder = TestPaths.NewFolder();
        // After Bag's six good images (indices 0–5), the three bad ones are indices 6–8: all of shard 2 with shards of 3.
        var images = CopyImages(folder, withBad: false);
        foreach (var (fixture, name) in new[] { ("not_an_image.png", "0100.png"), ("truncated.jpg", "0101.jpg"), ("bomb.png", "0102.png") })
            File.Copy(TestPaths.Fixture($"images/corrupt/{fixture}"), Path.Combine(images, "Bag", name));
        var run = await RunAsync(folder, images, "out", shardSize: 3);
        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith($"error: data: none of the 3 images of shard 2 (samples 6–8) could be read; the first: {Path.Combine(images, "Bag", "0100.png")}: not a readable image", line);
        using var manifest = Jobs.ReadJson(Path.Combine(folder, "out", "manifest.json"));
        Assert.Equal("failed", manifest.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Run_MaxBadSamplesWithFail_FailsInOneLine()
    {
        var folder = TestPaths.NewFolder();
        var images = CopyImages(folder, withBad: false);
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, Job(images, "out", 6, """{ "saliency": {} }""", "\"onBadSample\": \"fail\", \"maxBadSamples\": 5"));
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Equal("error: data.maxBadSamples: only with \"onBadSample\": \"skip\" (with \"fail\", the first bad sample fails the job)",
            Assert.Single(run.Stderr.TrimEnd().Split('\n')));
    }

    private static string WithoutPlaces(string summary) =>
        System.Text.RegularExpressions.Regex.Replace(summary, "\"shard\": \\d+,\\s*\"row\": \\d+", "");

    /// <summary>The 18 small PNGs under <paramref name="folder"/>/images, with the corrupt fixtures among them when <paramref name="withBad"/>.</summary>
    internal static string CopyImages(string folder, bool withBad)
    {
        var images = Path.Combine(folder, "images");
        var small = TestPaths.Fixture("images/small");
        foreach (var file in Directory.GetFiles(small, "*.png", SearchOption.AllDirectories))
        {
            var target = Path.Combine(images, Path.GetRelativePath(small, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        if (withBad)
            foreach (var (fixture, placed, _) in Bad) File.Copy(TestPaths.Fixture($"images/corrupt/{fixture}"), Path.Combine(images, placed));
        return images;
    }

    /// <summary>The image files in dataset order: by class folder, then by name (every name here is a 4-digit number).</summary>
    internal static string[] ListedFiles(string images) =>
        [.. Directory.GetFiles(images, "*", SearchOption.AllDirectories).OrderBy(f => Path.GetRelativePath(images, f), StringComparer.Ordinal)];

    private static string Job(string images, string output, int shardSize, string methods, string policy) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "images": "{{images}}", "labels": "folders", {{policy}}, "transforms": {{Transforms}} },
          "methods": {{methods}},
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;

    private static async Task<CliResult> RunAsync(string folder, string images, string output, int shardSize, string methods = """{ "saliency": {} }""",
        int? maxBad = null, bool skip = true)
    {
        var job = Path.Combine(folder, $"{output}.json");
        var policy = skip ? "\"onBadSample\": \"skip\"" + (maxBad is { } m ? $", \"maxBadSamples\": {m}" : "") : "\"onBadSample\": \"fail\"";
        await File.WriteAllTextAsync(job, Job(images, output, shardSize, methods, policy));
        return await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
    }

    /// <summary>Every shard's errors table, in shard order.</summary>
    private static async Task<List<(long Index, string? Path, string? Kind, string? Reason)>> ErrorsAsync(string output, int shards)
    {
        var rows = new List<(long, string?, string?, string?)>();
        for (var s = 0; s < shards; s++)
        {
            var part = Path.Combine(output, "errors", $"part-{s:D5}.parquet");
            var index = await ParquetRows.ReadLongsAsync(part, "index");
            var (path, kind, reason) = (await ParquetRows.ReadStringsAsync(part, "path"), await ParquetRows.ReadStringsAsync(part, "kind"),
                await ParquetRows.ReadStringsAsync(part, "reason"));
            rows.AddRange(index.Select((i, r) => (i, path[r], kind[r], reason[r])));
        }
        Assert.False(File.Exists(Path.Combine(output, "errors", $"part-{shards:D5}.parquet")));
        return rows;
    }

    /// <summary>The samples parts in shard order, as the bytes of every row (index, predictions, every column).</summary>
    private static async Task<string> SamplesAsync(string output, int shards)
    {
        var rows = new List<string>();
        for (var s = 0; s < shards; s++)
        {
            var part = Path.Combine(output, "samples", $"part-{s:D5}.parquet");
            var table = await ParquetRows.ReadAsync(part);
            var columns = new List<string[]>();
            foreach (var name in table.Columns.Where(c => c.Contains("mean_abs") || c.EndsWith("_max", StringComparison.Ordinal) || c == "confidence"))
                columns.Add([.. (await ParquetRows.ReadNullableFloatsOrFloatsAsync(part, name)).Select(v => v is { } f ? BitConverter.SingleToInt32Bits(f).ToString("x8") : "null")]);
            rows.AddRange(table.Index.Select((index, r) => $"{index} {table.Prediction[r]} {table.Label[r]} {string.Join(' ', columns.Select(c => c[r]))}"));
        }
        return string.Join('\n', rows);
    }
}
