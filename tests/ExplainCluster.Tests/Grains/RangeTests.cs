using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Three silos whose range grains gather 4 shards each and hand up only once their block is complete.</summary>
public sealed class RangeCluster() : ClusterFixture(3, ("Ranges:Size", "4"), ("Ranges:FlushAfter", "00:05:00"));

/// <summary>
/// Explain outcomes reach the job grain through range grains (<c>RangeGrain</c>): one message per block of shards, and the
/// same summary, byte for byte, as outcomes sent one by one.
/// </summary>
public class RangeTests(RangeCluster three) : IClassFixture<RangeCluster>
{
    [Fact]
    public async Task Run_ThroughRanges_OneHandUpPerBlockAndTheSummaryOfOutcomesSentOneByOne()
    {
        var handUps = new ConcurrentQueue<string?>(); // the silo of each hand-up
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ExplainMetrics.MeterName && instrument.Name == "explaincluster.range.handups") l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags) if (tag.Key == "silo") handUps.Enqueue(tag.Value as string);
        });
        listener.Start();

        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 660);
        var rangesOut = Path.Combine(folder, "ranges");
        var job = JobFile.Parse(TestPaths.FashionJob(images, labels, rangesOut, shardSize: 30), folder);
        var id = JobRunner.NewId(job);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var status = await JobRunner.FollowAsync(three.Grains, id, await three.Grains.GetGrain<IJobGrain>(id).StartAsync(job), ct: timeout.Token);
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(22, status.ShardsTotal);
        Assert.Equal(3, status.ShardsPerSilo.Count);
        // 22 shards in blocks of 4: six blocks, each handed up once, when its last shard reported (the flush timer is 5 min).
        Assert.Equal(6, handUps.Count(silo => silo is not null && status.ShardsPerSilo.ContainsKey(silo)));

        // Outcomes sent to the job one by one (Ranges:Size 0), on one silo: the same summary, byte for byte.
        var direct = new ClusterFixtureWith(("Ranges:Size", "0"));
        await direct.InitializeAsync();
        try
        {
            var directOut = Path.Combine(folder, "direct");
            var single = await Jobs.RunAsync(direct.Grains, TestPaths.FashionJob(images, labels, directOut, shardSize: 30), folder);
            Assert.Equal(JobState.Completed, single.State);
            Assert.Equal(Jobs.Summary(directOut), Jobs.Summary(rangesOut));
        }
        finally
        {
            await direct.DisposeAsync();
        }
    }

    private sealed class ClusterFixtureWith(params (string Key, string Value)[] settings) : ClusterFixture(1, settings);
}
