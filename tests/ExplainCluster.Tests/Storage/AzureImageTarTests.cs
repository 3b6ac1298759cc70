using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data.Images;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

/// <summary>WebDataset shards under a container prefix (<c>"tar": "az://container/prefix/"</c>): its .tar blobs in name order, as a local folder's.</summary>
public sealed class AzureImageTarTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Tar_ContainerPrefix_ReadsTheSameSamplesAndHashAsTheLocalFolder()
    {
        var container = $"tar-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        var tars = TestPaths.Fixture("images/tar");
        // Uploaded in reverse name order, beside a blob that is no .tar and a .tar one level further down: neither is a shard.
        foreach (var file in Directory.GetFiles(tars, "*.tar").OrderDescending(StringComparer.Ordinal))
            await locator.Resolve($"az://{container}/shards/{Path.GetFileName(file)}").WriteAsync(await File.ReadAllBytesAsync(file));
        await locator.Resolve($"az://{container}/shards/README.txt").WriteAsync("not a shard"u8.ToArray());
        await locator.Resolve($"az://{container}/shards/old/shard-00000.tar").WriteAsync(await File.ReadAllBytesAsync(Directory.GetFiles(tars, "*.tar")[0]));

        const string Transforms = "[{\"grayscale\": {}}, {\"toTensor\": {}}]";
        JobSpec Job(string tar) => JobFile.Parse($$"""
            { "model": { "uri": "m.pt" }, "data": { "tar": "{{tar}}", "transforms": {{Transforms}} }, "methods": { "saliency": {} }, "output": "out" }
            """, tars);
        var (remoteJob, localJob) = (Job($"az://{container}/shards/"), Job(tars));
        var (remote, local) = (await Dataset.OpenAsync(remoteJob, locator), await Dataset.OpenAsync(localJob, locator));
        Assert.Equal(18, local.Count);
        Assert.Equal(local.Count, remote.Count);
        Assert.Equal(local.SampleShape, remote.SampleShape);
        var all = new ShardSpec(0, 0, local.Count);
        var (a, b) = (await local.ReadAsync(all), await remote.ReadAsync(all));
        Assert.Equal(a.Raw, b.Raw);
        Assert.Equal(a.Labels, b.Labels);
        // manifest.json's inputsSha256 covers each tar's name and bytes: the same wherever the tars lie.
        Assert.Equal(await (await ImageList.OpenAsync(localJob, locator, default)).Sha256Async(localJob, locator, default),
            await (await ImageList.OpenAsync(remoteJob, locator, default)).Sha256Async(remoteJob, locator, default));

        // A prefix holding no .tar fails in one line.
        var empty = await Assert.ThrowsAsync<ExplainCluster.Engine.ExplainException>(() => Dataset.OpenAsync(Job($"az://{container}/nothing/"), locator));
        Assert.Equal($"data.tar: az://{container}/nothing/ holds no .tar files", empty.Message);
    }

    [Fact]
    public async Task Run_TarsUnderAContainerPrefix_GiveTheLocalFolderOutputs()
    {
        var container = $"tarrun-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        var tars = TestPaths.Fixture("images/tar");
        foreach (var file in Directory.GetFiles(tars, "*.tar"))
            await locator.Resolve($"az://{container}/shards/{Path.GetFileName(file)}").WriteAsync(await File.ReadAllBytesAsync(file));
        var folder = TestPaths.NewFolder();
        var outputs = new Dictionary<string, string>();
        foreach (var (name, tar) in new[] { ("local", tars), ("blob", $"az://{container}/shards/") })
        {
            var job = Path.Combine(folder, $"{name}.json");
            await File.WriteAllTextAsync(job, $$"""
                {
                  "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
                  "data": { "tar": "{{tar}}", "transforms": [{ "grayscale": { } }, { "toTensor": { } }, { "normalize": { "mean": [0.286], "std": [0.353] } }] },
                  "methods": { "saliency": {}, "smooth-grad": { "samples": 3, "seed": 7 } },
                  "shardSize": 7,
                  "output": "{{name}}"
                }
                """);
            var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), new Dictionary<string, string> { ["Storage__ConnectionString"] = azurite.ConnectionString }, "run", job);
            Assert.True(run.ExitCode == 0, run.ToString());
            outputs[name] = Path.Combine(folder, name);
        }
        // The pixels read from the blobs equal the local ones exactly (the test above). Of the runs' outputs, the rows, labels and
        // predictions must be equal exactly, and every number equal to float rounding: one CI run saw the blob run's summed
        // confidences 5 float ulps from the local run's (not reproduced here in 9 runs, idle or loaded), which is the model's
        // arithmetic, not the data path this test is about.
        var (local, blob) = (outputs["local"], outputs["blob"]);
        Assert.Contains("\"samples\": 18", Jobs.Summary(local));
        AssertClose(System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(local, "summary.json")))!,
            System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(blob, "summary.json")))!, "summary");
        for (var s = 0; s < 3; s++)
        {
            var part = $"part-{s:D5}";
            var (ra, rb) = (await ParquetRows.ReadAsync(Path.Combine(local, "samples", $"{part}.parquet")), await ParquetRows.ReadAsync(Path.Combine(blob, "samples", $"{part}.parquet")));
            Assert.Equal(ra.Index, rb.Index);
            Assert.Equal(ra.Label, rb.Label);
            Assert.Equal(ra.Prediction, rb.Prediction);
            foreach (var method in new[] { "saliency", "smooth-grad" })
            {
                var (x, y) = (await NpyFiles.ReadFloatsAsync(Path.Combine(local, "attributions", method, $"{part}.npy")), await NpyFiles.ReadFloatsAsync(Path.Combine(blob, "attributions", method, $"{part}.npy")));
                Assert.Equal(x.Length, y.Length);
                for (var i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) <= 1e-6 + 1e-4 * Math.Abs(x[i]), $"{method} {part}[{i}]: {x[i]} against {y[i]}");
            }
        }
        using var a = Jobs.ReadJson(Path.Combine(outputs["local"], "manifest.json"));
        using var b = Jobs.ReadJson(Path.Combine(outputs["blob"], "manifest.json"));
        Assert.Equal(a.RootElement.GetProperty("inputsSha256").GetString(), b.RootElement.GetProperty("inputsSha256").GetString());
    }


    /// <summary>Two JSON documents alike but for numbers, which may differ by float rounding (1e-6, relative above 1).</summary>
    private static void AssertClose(System.Text.Json.Nodes.JsonNode? a, System.Text.Json.Nodes.JsonNode? b, string path)
    {
        switch (a)
        {
            case System.Text.Json.Nodes.JsonObject o:
                var other = Assert.IsType<System.Text.Json.Nodes.JsonObject>(b);
                Assert.Equal(o.Select(p => p.Key), other.Select(p => p.Key));
                foreach (var (key, value) in o) AssertClose(value, other[key], $"{path}.{key}");
                break;
            case System.Text.Json.Nodes.JsonArray array:
                var items = Assert.IsType<System.Text.Json.Nodes.JsonArray>(b);
                Assert.Equal(array.Count, items.Count);
                for (var i = 0; i < array.Count; i++) AssertClose(array[i], items[i], $"{path}[{i}]");
                break;
            case System.Text.Json.Nodes.JsonValue v when v.GetValueKind() == System.Text.Json.JsonValueKind.Number:
                var (x, y) = (v.GetValue<double>(), b!.GetValue<double>());
                Assert.True(Math.Abs(x - y) <= 1e-6 * Math.Max(1, Math.Abs(x)), $"{path}: {x} against {y}");
                break;
            default:
                Assert.Equal(a?.ToJsonString(), b?.ToJsonString());
                break;
        }
    }
}
