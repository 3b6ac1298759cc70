using Orleans.Concurrency;

namespace ExplainCluster.Contracts;

/// <summary>One explanation job, keyed by job id: plans shards, tracks them, merges their partials.</summary>
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Validates and plans the job, starts its shards and returns at once; poll <see cref="GetStatusAsync"/>.</summary>
    Task<JobStatus> StartAsync(JobSpec job);

    /// <summary>Progress and, once finished, the outcome.</summary>
    Task<JobStatus> GetStatusAsync();

    /// <summary>
    /// Long poll: returns as soon as the job's progress changes (a shard finished, the job completed or
    /// failed), or after <paramref name="maxWait"/> (keep it well under the 30 s response timeout).
    /// </summary>
    [AlwaysInterleave]
    Task<JobStatus> WaitForChangeAsync(TimeSpan maxWait);

    /// <summary>No new shards start, running ones stop at their next batch; the manifest says cancelled.</summary>
    Task<JobStatus> CancelAsync();

    /// <summary>Called by a shard attempt when its outputs are staged; ignored unless it is the shard's current attempt.</summary>
    Task ShardCompletedAsync(ShardPartial partial);

    /// <summary>
    /// Called by a range grain (<see cref="IRangeGrain"/>) with the explain outcomes it gathered for its block of shards, in
    /// shard order: each is merged as <see cref="ShardCompletedAsync"/> would merge it, and the job records and dispatches
    /// once for the lot. Outcomes that are not their shard's current attempt are ignored.
    /// </summary>
    Task RangeReportedAsync(ShardPartial[] outcomes);

    /// <summary>Called by a selection attempt (<see cref="ShardPhase.Select"/>) with its candidates; ignored unless current.</summary>
    Task ShardSelectedAsync(SelectionPartial partial);

    /// <summary>Called by a post attempt (<see cref="ShardPhase.Post"/>) with its results; ignored unless current.</summary>
    Task ShardPostedAsync(PostPartial partial);

    /// <summary>Called by a tree attempt (<see cref="ShardPhase.Tree"/>) with its counts of the error tree's level; ignored unless current.</summary>
    Task ShardTreeCountedAsync(TreeLevelPartial partial);

    /// <summary>Called by a compare attempt (<see cref="ShardPhase.Compare"/>) with its part of the comparison; ignored unless current.</summary>
    Task ShardComparedAsync(ComparedPartial partial);

    /// <summary>Called by a concepts attempt (<see cref="ShardPhase.Concepts"/>) once its CAVs are staged; ignored unless current.</summary>
    Task ShardConceptsTrainedAsync(ConceptsTrained trained);

    /// <summary>
    /// Called by a shard attempt that cannot finish. A data fault (<paramref name="retryable"/> false) fails
    /// the job at once; an infrastructure fault runs the shard again, a few times at most.
    /// </summary>
    /// <param name="phase">The pass the attempt belonged to: a report from another pass than the job's current one is ignored.</param>
    Task ShardFailedAsync(int shardIndex, int attempt, string error, bool retryable, ShardPhase phase = ShardPhase.Explain);
}
