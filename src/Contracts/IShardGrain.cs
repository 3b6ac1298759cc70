namespace ExplainCluster.Contracts;

/// <summary>Computes one shard on a silo that hosts models; keyed "jobId/shardIndex".</summary>
public interface IShardGrain : IGrainWithStringKey
{
    /// <summary>Queues the shard on this silo's model host and returns at once; the job grain hears back.</summary>
    Task StartAsync(ShardRequest request);
}
