using System.Diagnostics.Metrics;

namespace ExplainCluster.Engine;

/// <summary>
/// The meter "ExplainCluster". Samples/s is the rate of <see cref="Samples"/>; retries are the attempts
/// whose <c>reason</c> is not <c>first</c>. Tagged by silo (a handful of values), never by job or sample.
/// </summary>
public static class ExplainMetrics
{
    public const string MeterName = "ExplainCluster";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Samples explained, counted when a shard attempt's outputs are staged. Tag: silo.</summary>
    public static readonly Counter<long> Samples = Meter.CreateCounter<long>("explaincluster.samples", "{sample}", "samples explained");

    /// <summary>Wall time of one shard attempt on a silo, from admission to staged outputs. Tag: silo.</summary>
    public static readonly Histogram<double> ShardDuration = Meter.CreateHistogram<double>("explaincluster.shard.duration", "s", "time of one shard attempt");

    /// <summary>Shard attempts started by job grains. Tag: reason: first, lost (its silo died or it no longer runs), fault (an infrastructure fault), unplaced (lost while being started).</summary>
    public static readonly Counter<long> Attempts = Meter.CreateCounter<long>("explaincluster.shard.attempts", "{attempt}", "shard attempts started");

    /// <summary>Batches that ran longer than Limits:BatchTimeout, each failing its shard and abandoning a model host thread (replaced at once). Tag: silo.</summary>
    public static readonly Counter<long> BatchTimeouts = Meter.CreateCounter<long>("explaincluster.batch.timeouts", "{batch}", "batches over Limits:BatchTimeout");

    /// <summary>Shards admitted on a silo's pipeline right now. Tag: silo.</summary>
    public static readonly UpDownCounter<long> InFlight = Meter.CreateUpDownCounter<long>("explaincluster.shards.in_flight", "{shard}", "shards in flight on a silo");

    /// <summary>Hand-ups of explain outcomes from range grains to their job grain (one message each). Tag: silo (the range grain's).</summary>
    public static readonly Counter<long> RangeHandUps = Meter.CreateCounter<long>("explaincluster.range.handups", "{message}", "outcomes handed up by range grains");
}
