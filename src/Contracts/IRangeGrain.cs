namespace ExplainCluster.Contracts;

/// <summary>
/// Gathers the explain outcomes of one contiguous block of a job's shards (keyed "jobId/range") and hands them to the job
/// grain together (<see cref="IJobGrain.RangeReportedAsync"/>): once every shard of its block has reported, or a short
/// while after the first outcome it holds. So the job grain takes one message per block, not one per shard.
/// </summary>
public interface IRangeGrain : IGrainWithStringKey
{
    /// <summary>Holds an attempt's outcome until the block's hand-up; returns at once.</summary>
    /// <param name="shards">How many shards the block has: once each has reported, the block is handed up at once.</param>
    Task ReportAsync(ShardPartial outcome, int shards);
}
