using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

public class MetricsTests
{
    [Fact]
    public async Task Run_Job_CountsItsSamplesAndShardsOnItsSilo()
    {
        var measurements = new ConcurrentQueue<(string Name, double Value, string? Silo)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ExplainMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? silo = null;
            foreach (var tag in tags) if (tag.Key == "silo") silo = tag.Value as string;
            measurements.Enqueue((instrument.Name, value, silo));
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        // A cluster of its own, so that other tests' jobs (same process) carry other silo tags.
        var cluster = new OneSiloCluster();
        await cluster.InitializeAsync();
        try
        {
            var folder = TestPaths.NewFolder();
            var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 250);
            var status = await Jobs.RunAsync(cluster.Grains, TestPaths.FashionJob(images, labels, Path.Combine(folder, "out"), shardSize: 100), folder);
            Assert.Equal(JobState.Completed, status.State);
            var silo = Assert.Single(status.ShardsPerSilo).Key;
            var mine = measurements.Where(m => m.Silo == silo).ToArray();

            Assert.Equal(250, mine.Where(m => m.Name == "explaincluster.samples").Sum(m => m.Value));
            Assert.Equal(3, mine.Count(m => m.Name == "explaincluster.shard.duration"));
            Assert.All(mine.Where(m => m.Name == "explaincluster.shard.duration"), m => Assert.True(m.Value > 0));
            // Every shard admitted left again: in flight goes +1 and -1 per shard.
            var inFlight = mine.Where(m => m.Name == "explaincluster.shards.in_flight").Select(m => m.Value).ToArray();
            Assert.Equal(6, inFlight.Length);
            Assert.Equal(0, inFlight.Sum());
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }
}
