namespace ExplainCluster.Engine.Jobs;

/// <summary>One shard's samples as read from storage: raw values, and labels when the job has them.</summary>
public sealed record ShardData(long Start, int Count, float[] Raw, long[]? Labels, int[] SampleShape);
