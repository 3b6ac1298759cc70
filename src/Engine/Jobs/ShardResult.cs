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
    double Seconds,
    Faithfulness.FaithfulnessResult? Faithfulness = null,
    ExplainCluster.Engine.Segmentation.SegmentedBatch? Segments = null);

/// <summary>One method's maps for a shard, [Count, ..MapShape] row-major, and its own per-sample columns.</summary>
public sealed record MethodMaps(string Name, int[] MapShape, float[] Maps, IReadOnlyList<SampleColumn> Columns)
{
    public int MapSize => MapShape.Aggregate(1, (a, b) => a * b);
}

/// <summary>A per-sample column a method adds to the parquet part (snake_case), one value per sample.</summary>
public sealed record SampleColumn(string Name, float[] Values);
