namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// Parquet row groups decoded once on a silo for every shard that reads part of them. Parquet.Net decodes a column chunk whole, so
/// a shard of 16,384 rows in a row group of 1,048,576 (pyarrow's default group size) decoded 64 times the rows it kept, and every
/// other shard of the group did the same again: a 1,000,000-row table written that way took a silo to 3.3 GB of memory and three
/// times the wall time of the same table in groups of 65,536 (docs/benchmarks.md). Keeps the groups used last (two by default)
/// (the shards in flight on a silo are near each other in the table), and none whose decoded columns would take more than
/// its share of <see cref="MaxBytes"/>; a group read whole is not kept, as no other shard reads it.
/// </summary>
/// <remarks>
/// A group is keyed by its file's location, length and version (<see cref="Storage.IBlob.VersionAsync"/>), so a file replaced
/// between jobs is decoded again. A decode runs without the reading shard's cancellation, as other shards may wait for it
/// (<see cref="RecentTasks{TKey, TValue}"/>).
/// </remarks>
public sealed class RowGroupCache(int groups = 2, long maxBytes = 1L << 30)
{
    /// <summary>The silo's cache: every table a silo's shards read goes through it.</summary>
    public static RowGroupCache Shared { get; } = new();

    private readonly RecentTasks<GroupKey, DecodedColumn[]> _groups = new(groups);

    public long MaxBytes => maxBytes;

    /// <summary>How many groups this cache has decoded and kept (each of them once, until it was dropped).</summary>
    public int Decodes => _groups.Computed;

    /// <summary>
    /// Whether a group whose decoded columns take about <paramref name="bytes"/> is kept: at most an even share of
    /// <see cref="MaxBytes"/> a group, so that the groups kept together stay under it.
    /// </summary>
    public bool Admits(long bytes) => groups > 0 && bytes <= maxBytes / groups;

    /// <summary>What <paramref name="rows"/> rows of a column take decoded: 9 bytes a number (a double and a flag), 16 a text (a reference and a share of the strings).</summary>
    public static long Bytes(long rows, bool text) => rows * (text ? 16 : 9);

    /// <summary>
    /// The columns of <paramref name="key"/>'s group, decoded by <paramref name="decode"/> unless a shard already has. With
    /// <paramref name="keep"/> false (a read of a few rows, such as kernel-shap's background rows spread over the table) a group
    /// not kept is decoded for this read alone and displaces none that shards are reading.
    /// </summary>
    public Task<DecodedColumn[]> GetAsync(GroupKey key, Func<Task<DecodedColumn[]>> decode, bool keep, CancellationToken ct) =>
        _groups.GetAsync(key, decode, ct, keep);
}

/// <summary>One row group of one version of a file, with the columns read from it (<see cref="Columns"/>: their indices, joined).</summary>
public readonly record struct GroupKey(string Location, long Length, string Version, int Group, string Columns);

/// <summary>A column chunk decoded: numbers as doubles (with which are missing), or text.</summary>
public abstract class DecodedColumn
{
    /// <summary>Rows [<paramref name="from"/>, +<paramref name="count"/>) as cells from <paramref name="to"/> on: doubles, strings or null.</summary>
    public abstract void CopyTo(int from, int count, object?[] cells, int to);

    public sealed class Numbers(double[] values, bool[]? missing) : DecodedColumn
    {
        public override void CopyTo(int from, int count, object?[] cells, int to)
        {
            for (var r = 0; r < count; r++) cells[to + r] = missing is not null && missing[from + r] ? null : values[from + r];
        }
    }

    public sealed class Texts(string?[] values) : DecodedColumn
    {
        public override void CopyTo(int from, int count, object?[] cells, int to)
        {
            for (var r = 0; r < count; r++) cells[to + r] = string.IsNullOrEmpty(values[from + r]) ? null : values[from + r];
        }
    }
}
