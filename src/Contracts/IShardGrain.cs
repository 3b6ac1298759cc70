namespace ExplainCluster.Contracts;

/// <summary>Computes one attempt at one shard on a silo that hosts models; keyed "jobId/shardIndex/attempt".</summary>
public interface IShardGrain : IGrainWithStringKey
{
    /// <summary>
    /// Queues the shard on this silo's model host and returns at once with the silo it runs on; the job
    /// grain hears back through <see cref="IJobGrain.ShardCompletedAsync"/> or <see cref="IJobGrain.ShardFailedAsync"/>.
    /// </summary>
    Task<SiloAddress> StartAsync(ShardRequest request);

    /// <summary>
    /// Whether this activation is running its attempt. False from a fresh activation: the attempt was lost
    /// (its activation went away, or its outcome could not be reported) and the job runs it again.
    /// </summary>
    Task<bool> IsRunningAsync();

    /// <summary>Stops the attempt at its next batch; it reports nothing after that.</summary>
    Task CancelAsync();
}
