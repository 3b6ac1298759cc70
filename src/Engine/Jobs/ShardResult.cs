namespace ExplainCluster.Engine.Jobs;

/// <summary>A computed shard, as plain arrays: per-sample predictions and each method's maps.</summary>
public sealed record ShardResult(
    long Start,
    int Count,
    int Classes,
    long[]? Labels,
    long[] Targets,
    float[] Logits,
    int[] Predictions,
    float[] Confidence,
    float[]? Loss,
    IReadOnlyList<MethodMaps> Methods,
    double Seconds);

/// <summary>One method's maps for a shard, [Count, ..MapShape] row-major.</summary>
public sealed record MethodMaps(string Name, int[] MapShape, float[] Maps)
{
    public int MapSize => MapShape.Aggregate(1, (a, b) => a * b);
}
