using ExplainCluster.Engine.Segmentation;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// One shard's samples as read from storage: raw values, labels when the job has them, and the samples'
/// segments when a method of the job uses them (<see cref="JobSegments"/>); for a table, its feature names (each
/// method's maps then hold one value per feature); a table's or an image manifest's metadata columns (written beside the
/// samples as they are) and which of them the job's cohorts are by (<see cref="Cohorts"/>); and the rows outside the shard
/// that its methods read (<see cref="Outside"/>: a table method's background rows); a table's <c>dependence</c>, whose sample
/// the shard's rows add to; for a table with an error tree, its options and the table's encodings (<see cref="ErrorTree"/>).
/// </summary>
/// <para>
/// With <c>"onBadSample": "skip"</c>, the images that could not be read are left out (<see cref="Bad"/>): the shard keeps its range
/// (from <see cref="Start"/>, as long as its kept and bad samples together) but holds only the <see cref="Count"/> kept samples, whose
/// dataset indices are <see cref="Kept"/> (null: every sample of the range, row i is index Start + i). Everything per sample
/// names a row by <see cref="IndexOf"/> and finds one by <see cref="RowOf"/>.
/// </para>
public sealed record ShardData(long Start, int Count, float[] Raw, long[]? Labels, int[] SampleShape, SegmentedBatch? Segments = null,
    string[]? Features = null, TextColumn[]? Metadata = null, string[]? Cohorts = null, RowSet? Outside = null, long[]? Kept = null,
    Data.Images.BadSample[]? Bad = null, Contracts.DependenceSpec? Dependence = null, ErrorTree.ErrorTreeInput? ErrorTree = null,
    Tabular.SpPickSpec? SpPick = null)
{
    /// <summary>The dataset index of row <paramref name="row"/>.</summary>
    public long IndexOf(int row) => SampleRows.IndexOf(Start, Kept, row);

    /// <summary>The row of dataset index <paramref name="index"/>; −1 when the shard does not hold it.</summary>
    public int RowOf(long index) => SampleRows.RowOf(Start, Count, Kept, index);
}

/// <summary>A shard's rows and their dataset indices: consecutive from a start, or the kept ones of a range (ascending).</summary>
public static class SampleRows
{
    public static long IndexOf(long start, long[]? kept, int row) => kept?[row] ?? start + row;

    public static int RowOf(long start, int count, long[]? kept, long index)
    {
        if (kept is not null) return Array.BinarySearch(kept, index) is var at and >= 0 ? at : -1;
        return index >= start && index < start + count ? (int)(index - start) : -1;
    }

    /// <summary>The dataset index of every row.</summary>
    public static long[] Indices(long start, int count, long[]? kept) => kept is { } k ? (long[])k.Clone() : [.. Enumerable.Range(0, count).Select(i => start + i)];
}

/// <summary>Rows of the dataset by index (ascending), raw as the shard's own: [Indices.Length, sample shape], row-major.</summary>
public sealed record RowSet(long[] Indices, float[] Raw);

/// <summary>A column of text, one value per sample (null: missing).</summary>
public sealed record TextColumn(string Name, string?[] Values);
