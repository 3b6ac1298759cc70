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
        var expected = await Data.ImageTarCliTests.DigestAsync(outputs["local"]);
        Assert.Contains("\"samples\": 18", expected);
        Assert.Equal(expected, await Data.ImageTarCliTests.DigestAsync(outputs["blob"]));
        using var a = Jobs.ReadJson(Path.Combine(outputs["local"], "manifest.json"));
        using var b = Jobs.ReadJson(Path.Combine(outputs["blob"], "manifest.json"));
        Assert.Equal(a.RootElement.GetProperty("inputsSha256").GetString(), b.RootElement.GetProperty("inputsSha256").GetString());
    }
}
