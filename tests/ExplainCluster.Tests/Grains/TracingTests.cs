using System.Collections.Concurrent;
using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Grains.Hosting;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

public class TracingTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public void Sources_IncludeEveryExplainClusterSource()
    {
        Assert.Contains(ExplainCluster.Client.JobRunner.Activities.Name, Tracing.Sources);
        Assert.Contains(ExplainCluster.Grains.JobGrain.Activities.Name, Tracing.Sources);
        Assert.Contains(ExplainCluster.Engine.Jobs.ShardExplainer.Activities.Name, Tracing.Sources);
    }

    [Fact]
    public async Task Run_OneJob_IsOneTraceFromCliToModelBatches()
    {
        var activities = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => Tracing.Sources.Contains(source.Name),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activities.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        // A name of its own: other test classes run jobs in parallel while this listener listens.
        var json = TestPaths.FashionJob(images, labels, Path.Combine(folder, "out"), shardSize: 100).Replace("\"fmnist-test\"", "\"trace-test\"");
        var status = await Jobs.RunAsync(one.Grains, json, folder);
        Assert.Equal(JobState.Completed, status.State);

        var root = Assert.Single(activities, a => a.OperationName == "explain.run" && a.ParentId is null && Equals(a.GetTagItem("explain.job.name"), "trace-test"));
        var trace = activities.Where(a => a.TraceId == root.TraceId).ToArray();
        Assert.Single(trace, a => a.OperationName == "job.start");
        Assert.Equal(3, trace.Count(a => a.OperationName == "shard.run"));
        // 100 samples per shard at batch 256: one batch per shard.
        Assert.Equal(3, trace.Count(a => a.OperationName == "model.batch"));
        Assert.All(trace.Where(a => a.OperationName == "model.batch"),
            batch => Assert.Contains(trace, shard => shard.OperationName == "shard.run" && shard.SpanId == batch.ParentSpanId));
    }
}
