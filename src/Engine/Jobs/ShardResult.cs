using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Jobs;

/// <summary>A computed shard: per-sample rows, attribution maps and the partial statistics to merge.</summary>
public sealed record ShardResult(
    long Start,
    int Count,
    int Classes,
    long[]? Labels,
    float[] Logits,
    int[] Predictions,
    float[] Confidence,
    float[]? Loss,
    IReadOnlyList<MethodOutput> Methods,
    ShardPartial Partial);

/// <summary>One method's maps for a shard, [Count, ..MapShape] row-major, and its scalar columns.</summary>
public sealed record MethodOutput(string Name, int[] MapShape, float[] Maps, float[] MeanAbs, float[] Max);
