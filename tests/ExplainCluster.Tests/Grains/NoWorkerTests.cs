using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>A job on a cluster with no model-host silo says why it makes no progress, instead of looking stuck.</summary>
public class NoWorkerTests(CoordinatorOnlyCluster cluster) : IClassFixture<CoordinatorOnlyCluster>
{
    [Fact]
    public async Task Status_NoModelHostSilo_SaysTheJobWaitsForOne()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 20);
        var job = ExplainCluster.Engine.Jobs.JobFile.Parse(TestPaths.FashionJob(images, labels, Path.Combine(folder, "out")), folder);
        var grain = cluster.Grains.GetGrain<IJobGrain>($"idle-{Guid.NewGuid():N}");
        var started = await grain.StartAsync(job);
        Assert.Equal(JobState.Running, started.State);
        var status = await grain.GetStatusAsync();
        Assert.Equal(0, status.ShardsDone);
        Assert.Equal("no model-host silo is active (ModelHost:Enabled=true): the job's shards wait for one to join", status.Waiting);
        var cancelled = await grain.CancelAsync();
        Assert.Null(cancelled.Waiting);
    }
}
