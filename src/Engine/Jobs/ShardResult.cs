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
    ExplainCluster.Engine.Segmentation.SegmentedBatch? Segments = null,
    Sanity.SanityResult? Sanity = null,
    ExplainCluster.Contracts.ParamGradLayer[]? ParamGradLayers = null,
    Views.ShardViewsResult? Views = null,
    Trust.TrustResult? Trust = null,
    Concepts.TcavResult? Tcav = null);

/// <summary>
/// One method's maps for a shard, [rows, ..MapShape] row-major, and its own per-sample columns (NaN where it
/// explained nothing). <see cref="Rows"/>: each map row's position in the shard, for a method with a subset;
/// null when it explained every sample (row i is sample i).
/// </summary>
public sealed record MethodMaps(string Name, int[] MapShape, float[] Maps, IReadOnlyList<SampleColumn> Columns, int[]? Rows = null)
{
    /// <summary>How many samples the method explained in this shard.</summary>
    public int RowCount(int samples) => Rows?.Length ?? samples;

    public int MapSize => MapShape.Length == 0 ? 0 : MapShape.Aggregate(1, (a, b) => a * b);
}

/// <summary>A per-sample column a method adds to the parquet part (snake_case), one value per sample.</summary>
public sealed record SampleColumn(string Name, float[] Values);
