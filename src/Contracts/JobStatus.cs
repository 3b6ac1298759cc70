namespace ExplainCluster.Contracts;

[GenerateSerializer, Alias("ec.JobState")]
public enum JobState
{
    NotStarted = 0,
    Running = 1,
    Finalizing = 2,
    Completed = 3,
    Failed = 4,
    Cancelled = 5,
}

/// <param name="ShardsPerSilo">Finished shards by the silo that ran them (a count per silo, not a list per shard: it stays small at any shard count).</param>
/// <param name="Drift">A completed job whose comparison crossed its <c>compare.fail</c> thresholds: one line per threshold crossed.</param>
/// <param name="Stage">What a running job does before its shards' explanations, e.g. the selection pass of stratified subsets; null otherwise.</param>
/// <param name="Waiting">Why a running job makes no progress, when it is waiting on the cluster (no silo to run shards); null otherwise.</param>
[GenerateSerializer, Immutable, Alias("ec.JobStatus")]
public sealed record JobStatus(
    [property: Id(0)] JobState State,
    [property: Id(1)] int ShardsTotal,
    [property: Id(2)] int ShardsDone,
    [property: Id(3)] long SamplesTotal,
    [property: Id(4)] long SamplesDone,
    [property: Id(5)] string? Error,
    [property: Id(6)] string Output,
    [property: Id(7)] Dictionary<string, int> ShardsPerSilo,
    [property: Id(8)] int Attempts = 0,
    [property: Id(9)] string Name = "",
    [property: Id(10)] string? Waiting = null,
    [property: Id(11)] string? Stage = null,
    [property: Id(12)] string[]? Drift = null);
