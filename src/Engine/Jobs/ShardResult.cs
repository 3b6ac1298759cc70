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
    Concepts.TcavResult? Tcav = null,
    long[]? Kept = null)
{
    /// <summary>The dataset index of row <paramref name="row"/> (<see cref="ShardData.Kept"/>: the samples kept when bad ones were skipped).</summary>
    public long IndexOf(int row) => SampleRows.IndexOf(Start, Kept, row);

    /// <summary>The row of dataset index <paramref name="index"/>; −1 when the shard does not hold it.</summary>
    public int RowOf(long index) => SampleRows.RowOf(Start, Count, Kept, index);
}

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

    /// <summary>Each of the shard's <paramref name="samples"/> rows' row in <see cref="Maps"/>; −1 where the method did not explain it.</summary>
    public int[] MapRows(int samples)
    {
        var rowOf = Enumerable.Range(0, samples).ToArray();
        if (Rows is not { } rows) return rowOf;
        Array.Fill(rowOf, -1);
        for (var row = 0; row < rows.Length; row++) rowOf[rows[row]] = row;
        return rowOf;
    }
}

/// <summary>A per-sample column a method adds to the parquet part (snake_case), one value per sample.</summary>
public sealed record SampleColumn(string Name, float[] Values);
