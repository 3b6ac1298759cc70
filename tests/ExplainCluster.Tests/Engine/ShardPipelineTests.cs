using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Engine;

public class ShardPipelineTests
{
    [Fact]
    public async Task Run_ManyShardsAtOnce_HoldsAtMostThreadsPlusOne()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 480);
        var job = JobFile.Parse(TestPaths.FashionJob(images, labels, Path.Combine(folder, "out"), shardSize: 40), folder);
        var locator = new BlobLocator(null);
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, locator);
        var pipeline = new ShardPipeline(host, locator);

        var shards = Dataset.Plan(480, 40);
        var partials = await Task.WhenAll(shards.Select(s => Task.Run(() => pipeline.RunAsync(job, s, 1, "local"))));

        Assert.Equal(12, partials.Length);
        Assert.Equal(Enumerable.Range(0, 12), partials.Select(p => p.ShardIndex).Order());
        Assert.Equal(480, partials.Sum(p => p.Count));
        Assert.InRange(pipeline.PeakInFlight, 1, 2);
    }
}
