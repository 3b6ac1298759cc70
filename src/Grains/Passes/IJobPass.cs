using ExplainCluster.Contracts;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// One pass of a job: plans its shard work, says what each attempt is asked to do, merges the results of the attempts
/// the job accepts, and says which pass comes next. Its progress lives in the job's record (<see cref="JobRecord.Books"/>
/// and what it merged there), or in what it can rebuild from the staged outputs (<see cref="ResumeAsync"/>).
/// </summary>
public interface IJobPass
{
    JobPass Kind { get; }

    /// <summary>What the pass's shard attempts compute (<see cref="ShardRequest.Phase"/>).</summary>
    ShardPhase Phase { get; }

    /// <summary>The pass that follows this one once every shard is merged; null when the job then finalizes.</summary>
    JobPass? Next { get; }

    /// <summary>Plans the pass from what the earlier passes merged; false when the job has no work for it (the pass is skipped).</summary>
    Task<bool> PlanAsync();

    /// <summary>
    /// After the job's grain reactivated in this pass: rebuilds what the pass merged and planned that is not in the record.
    /// Returns true when accepted attempts must run again because their results were not kept.
    /// </summary>
    Task<bool> ResumeAsync();

    /// <summary>Once every shard of the pass is merged: what the pass concludes (the selection's choice), before the next is planned.</summary>
    void Complete() { }

    /// <summary>The request of one attempt at <paramref name="shard"/>.</summary>
    ShardRequest Request(string jobId, ShardSpec shard, int attempt);

    /// <summary>The shard grain of one attempt: each pass keys its own, so attempt numbers of different passes never meet.</summary>
    string ShardKey(string jobId, int shard, int attempt);

    /// <summary>The pass's progress for the job's status while it runs; null for none beyond the explained shards.</summary>
    string? Describe(ShardBook book);
}

/// <summary>A pass whose attempts report results of type <typeparamref name="T"/>.</summary>
public interface IJobPass<T> : IJobPass
{
    /// <summary>The result in full, from what the attempt sent (a partial sent by reference is read from its staging).</summary>
    Task<T> ReceiveAsync(T result) => Task.FromResult(result);

    /// <summary>Merges an accepted attempt's result; a returned error fails the job.</summary>
    string? Merge(T result);
}
