using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Grains.Hosting;
using ExplainCluster.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// Limits:BatchTimeout (2 s here): a forward that does not return fails its job in one line naming the limit and its
/// value, and the silo keeps its thread count. The stuck forward is tests/fixtures/bad/slow_forward.pt, which ends
/// on its own (about 12 s on one core: long enough to outlast the second job, short enough not to hold a core of
/// the suite's two for long).
/// </summary>
public class BatchTimeoutTests(BatchTimeoutCluster cluster) : IClassFixture<BatchTimeoutCluster>
{
    /// <summary>The slow model's first-pixel value: a million additions per unit, about 2.5 s per unit on one core here.</summary>
    private const float SlowUnits = 5;

    [Fact]
    public async Task Run_ForwardLongerThanBatchTimeout_FailsInOneLineAndTheSiloKeepsItsThread()
    {
        var host = cluster.ModelHost;
        var folder = TestPaths.NewFolder();
        var data = new float[4 * 784];
        data[0] = SlowUnits;
        var inputs = Path.Combine(folder, "x.npy");
        await File.WriteAllBytesAsync(inputs, NpyFormat.Encode(data, [4, 28, 28]));
        var job = $$"""
            { "model": { "uri": "{{TestPaths.Fixture(Path.Combine("bad", "slow_forward.pt"))}}" }, "data": { "inputs": "{{inputs}}" },
              "methods": { "saliency": {} }, "batchSize": 4, "output": "{{Path.Combine(folder, "slow")}}" }
            """;

        var watch = Stopwatch.StartNew();
        var status = await Jobs.RunAsync(cluster.Grains, job, folder);
        var failedAfter = watch.Elapsed;

        Assert.Equal(JobState.Failed, status.State);
        Assert.Matches(@"^model .*slow_forward\.pt: one batch ran longer than Limits:BatchTimeout \(00:00:02\); its forward may never return$", status.Error);
        Assert.InRange(failedAfter, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10));
        Assert.Equal((1, 1, 1), (host.WorkerThreads, host.AbandonedThreads, host.StuckThreads));

        // The one model host thread is still in the slow forward: the replacement runs the next job.
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 40);
        var next = await Jobs.RunAsync(cluster.Grains, TestPaths.FashionJob(images, labels, Path.Combine(folder, "ok")), folder);
        Assert.Equal(JobState.Completed, next.State);
        Assert.Equal(1, host.StuckThreads);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("-00:00:01")]
    [InlineData("2.00:00:00")]
    public void Settings_BatchTimeoutOutOfRange_NamesTheKey(string value)
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection([new("Limits:BatchTimeout", value)]).Build();
        var error = Assert.Throws<ClusterSettingsException>(() => ExplainSiloExtensions.LimitsFrom(settings));
        Assert.Equal("Limits:BatchTimeout must be more than 0 and at most 1.00:00:00", error.Message);
    }

    [Fact]
    public void Settings_Default_IsTenMinutes() =>
        Assert.Equal(TimeSpan.FromMinutes(10), ExplainSiloExtensions.LimitsFrom(new ConfigurationBuilder().Build()).BatchTimeout);
}
