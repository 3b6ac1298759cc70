using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

/// <summary>A real Azurite, stopped for 10 s while a job reads and writes through it.</summary>
public class StorageOutageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Run_AzuriteStoppedForTenSecondsMidJob_CompletesWithTheSameSummary()
    {
        var folder = TestPaths.NewFolder();
        var (container, images, labels) = await azurite.FashionContainerAsync(folder, 3000, "outage");

        await using var cluster = await EmbeddedCluster.StartAsync([$"--Storage:ConnectionString={azurite.ConnectionString}", "--ModelHost:WorkerThreads=1"]);
        var job = JobFile.Parse(TestPaths.FashionJob($"az://{container.Name}/data/images.npy", $"az://{container.Name}/data/labels.npy",
            $"az://{container.Name}/out", shardSize: 100, model: $"az://{container.Name}/model.pt"), folder);
        var run = JobRunner.RunAsync(cluster.Grains, job);

        // Once the first shard has staged its partial, the store goes away for 10 s.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!await StagedAsync(container))
        {
            Assert.True(DateTime.UtcNow < deadline, "no shard finished within 2 minutes");
            await Task.Delay(20);
        }
        var stopped = DateTime.UtcNow;
        await azurite.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(10) - (DateTime.UtcNow - stopped));
        Assert.False(run.IsCompleted, "the job finished before the outage ended: the test did not test an outage");
        await azurite.StartAsync();

        var status = await run.WaitAsync(TimeSpan.FromMinutes(3));
        Assert.True(status.State == JobState.Completed, status.Error);

        var localOut = Path.Combine(folder, "local");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(cluster.Grains, TestPaths.FashionJob(images, labels, localOut, shardSize: 100), folder)).State);
        Assert.Equal(Jobs.Summary(localOut), await Jobs.SummaryAsync(container, "out"));
        var parts = new List<string>();
        await foreach (var item in container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = "out/" }))
            if (item.Name.StartsWith("out/samples/", StringComparison.Ordinal) || item.Name.StartsWith("out/_attempts/", StringComparison.Ordinal)) parts.Add(item.Name);
        Assert.Equal(30, parts.Count);
        Assert.All(parts, p => Assert.StartsWith("out/samples/part-", p));
    }

    private static async Task<bool> StagedAsync(Azure.Storage.Blobs.BlobContainerClient container)
    {
        await foreach (var item in container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = "out/_attempts/" }))
            if (item.Name.EndsWith("/partial.bin", StringComparison.Ordinal)) return true;
        return false;
    }
}
