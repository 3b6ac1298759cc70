using System.Text;
using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

public class AzureBlobTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Blob_WriteThenRangedRead_ReturnsExactBytes()
    {
        var blob = new BlobLocator(azurite.ConnectionString).Resolve($"az://unit-{Guid.NewGuid():N}/folder/data.bin");
        Assert.False(await blob.ExistsAsync());
        Assert.Null(await blob.StatAsync());
        var bytes = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        await blob.WriteAsync(bytes);
        Assert.True(await blob.ExistsAsync());
        Assert.Equal(5000, await blob.LengthAsync());
        Assert.Equal((5000L, await blob.VersionAsync()), await blob.StatAsync()); // one GetProperties for both
        var version = await blob.VersionAsync();
        await blob.WriteAsync(bytes);
        Assert.NotEqual(version, (await blob.StatAsync())!.Value.Version);
        Assert.Equal(bytes.AsSpan(1234, 100).ToArray(), await blob.ReadRangeAsync(1234, 100));
        Assert.Equal("az://", blob.Location[..5]);
        await using var stream = await blob.OpenReadAsync();
        var all = new MemoryStream();
        await stream.CopyToAsync(all);
        Assert.Equal(bytes, all.ToArray());
    }

    [Fact]
    public async Task DeleteTree_Prefix_DeletesEveryBlobUnderItAndNothingBeside()
    {
        var container = $"tree-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        var tree = locator.Resolve($"az://{container}/_attempts");
        // More blobs than are deleted at once, some a level deeper.
        var names = Enumerable.Range(0, 3 * LocalBlob.Deleting).Select(i => i % 4 == 0 ? $"post/shard-{i}/part.bin" : $"shard-{i}/partial.bin").ToArray();
        foreach (var name in names) await tree.Child(name).WriteAsync(new byte[] { 1, 2, 3 });
        var beside = locator.Resolve($"az://{container}/_attempts.keep");
        await beside.WriteAsync(new byte[] { 4 });

        await tree.DeleteTreeAsync();

        foreach (var name in names) Assert.False(await tree.Child(name).ExistsAsync(), name);
        Assert.True(await beside.ExistsAsync(), "a blob beside the prefix was deleted");
    }

    [Fact]
    public async Task Locator_HttpUrlAndAzUri_ReachTheSameBlob()
    {
        var container = $"url-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        await locator.Resolve($"az://{container}/a/b.txt").WriteAsync(Encoding.UTF8.GetBytes("hello"));
        var url = $"http://127.0.0.1:{azurite.Port}/devstoreaccount1/{container}/a/b.txt";
        Assert.Equal("hello", Encoding.UTF8.GetString(await locator.Resolve(url).ReadRangeAsync(0, 5)));
    }

    [Fact]
    public void Locator_AzUriWithoutConnectionString_NamesTheSetting()
    {
        var error = Assert.Throws<ExplainException>(() => new BlobLocator(null).Resolve("az://c/x.npy"));
        Assert.Contains("Storage:ConnectionString", error.Message);
    }

    [Fact]
    public async Task Run_JobOnAzurite_CompletesAndMatchesLocalRun()
    {
        var folder = TestPaths.NewFolder();
        var (container, images, labels) = await azurite.FashionContainerAsync(folder, 300, "fmnist");
        var labelsUrl = $"http://127.0.0.1:{azurite.Port}/devstoreaccount1/{container.Name}/data/labels.npy";
        var remoteOut = $"az://{container.Name}/out";

        await using var cluster = await EmbeddedCluster.StartAsync([$"--Storage:ConnectionString={azurite.ConnectionString}"]);
        var remote = JobFile.Parse(TestPaths.FashionJob($"az://{container.Name}/data/images.npy", labelsUrl, remoteOut,
            shardSize: 128, model: $"az://{container.Name}/model.pt"), folder);
        var status = await JobRunner.RunAsync(cluster.Grains, remote);
        Assert.True(status.State == JobState.Completed, status.Error);

        var localOut = Path.Combine(folder, "local");
        var local = JobFile.Parse(TestPaths.FashionJob(images, labels, localOut, shardSize: 128), folder);
        Assert.Equal(JobState.Completed, (await JobRunner.RunAsync(cluster.Grains, local)).State);

        Assert.Equal(Jobs.Summary(localOut), await Jobs.SummaryAsync(container, "out"));
        var manifest = (await container.GetBlobClient("out/manifest.json").DownloadContentAsync()).Value.Content.ToString();
        Assert.Contains("\"status\": \"completed\"", manifest);
        var names = new List<string>();
        await foreach (var item in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "out/", default)) names.Add(item.Name);
        Assert.Contains("out/samples/part-00002.parquet", names);
        Assert.Contains("out/attributions/grad-cam/part-00002.npy", names);
        Assert.Contains("out/report.html", names);
        Assert.DoesNotContain(names, n => n.StartsWith("out/_attempts/", StringComparison.Ordinal));
        var cam = await ArrayFile.OpenAsync(new BlobLocator(azurite.ConnectionString).Resolve(remoteOut + "/attributions/grad-cam/part-00000.npy"));
        Assert.Equal(new long[] { 128, 7, 7 }, cam.Header.Shape);
    }
}
