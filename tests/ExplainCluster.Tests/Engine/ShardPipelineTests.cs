using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Data;
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

    [Fact]
    public async Task Run_TableShardsHoldingBackgroundRows_ReadTheBackgroundOnce()
    {
        var folder = TestPaths.NewFolder();
        var job = JobFile.Parse($$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] },
              "data": {{TableFiles.CreditData(TableFiles.Credit)}},
              "methods": { "kernel-shap": { "samples": 64, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.02, "seed": 1 } } },
              "target": "label", "shardSize": 640, "output": "{{Path.Combine(folder, "out")}}" }
            """, folder);
        var locator = new BlobLocator(null);
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, locator);
        var pipeline = new ShardPipeline(host, locator);
        var shards = Dataset.Plan(4454, 640);
        var subsets = SampleSelection.Subsets(job);
        StratumCandidate[][]? kept = null;
        foreach (var shard in shards) kept = SampleSelection.Merge(kept, (await pipeline.SelectAsync(job, shard, 1, "local")).Subsets, subsets);
        var chosen = SampleSelection.Chosen(kept!, subsets);
        var background = JobPlan.Of(job).BackgroundRows(chosen);

        foreach (var shard in shards) await pipeline.RunAsync(job, shard, 1, "local", chosen: SampleSelection.Within(chosen, subsets, shard.Start, shard.Count));

        // Most shards hold some of the 24 rows, and each of those reads the others from the rest of the table: once for the job.
        Assert.Equal(24, background.Length);
        Assert.InRange(shards.Count(s => background.Any(i => i >= s.Start && i < s.Start + s.Count)), 2, shards.Length);
        Assert.Equal(1, pipeline.BackgroundReads);
    }
}
