namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// Parquet row groups decoded once on a silo for every shard that reads part of them. Parquet.Net decodes a column chunk whole, so
/// a shard of 16,384 rows in a row group of 1,048,576 (pyarrow's default group size) decoded 64 times the rows it kept, and every
/// other shard of the group did the same again: a 1,000,000-row table written that way took a silo to 3.3 GB of memory and three
/// times the wall time of the same table in groups of 65,536 (docs/benchmarks.md). Keeps the <see cref="Groups"/> groups used last
/// (the shards in flight on a silo are near each other in the table), and none whose decoded columns would pass
/// <see cref="MaxBytes"/>; a group read whole is not kept, as no other shard reads it.
/// </summary>
/// <remarks>
/// A group is keyed by its file's location, length and version (<see cref="Storage.IBlob.VersionAsync"/>), so a file replaced
/// between jobs is decoded again. A decode runs without the reading shard's cancellation, as other shards may wait for it; each
/// waits with its own.
/// </remarks>
public sealed class RowGroupCache(int groups = 2, long maxBytes = 1L << 30)
{
    /// <summary>The silo's cache: every table a silo's shards read goes through it.</summary>
    public static RowGroupCache Shared { get; } = new();

    private readonly object _lock = new();

    /// <summary>The groups kept, the one used last first.</summary>
    private readonly LinkedList<(GroupKey Key, Task<DecodedColumn[]> Columns)> _recent = new();

    private int _decodes;

    public int Groups => groups;

    public long MaxBytes => maxBytes;

    /// <summary>How many groups this cache has decoded (each of them once, until it was dropped).</summary>
    public int Decodes => Volatile.Read(ref _decodes);

    /// <summary>
    /// Whether a group of <paramref name="rows"/> rows of <paramref name="columns"/> columns is kept: its numbers take 9 bytes a
    /// cell (a double and a flag), and text is counted at 16 (a reference and a share of the strings).
    /// </summary>
    public bool Admits(long rows, int columns) => groups > 0 && rows * columns * 16 <= maxBytes;

    /// <summary>
    /// The columns of <paramref name="key"/>'s group, decoded by <paramref name="decode"/> unless a shard already has. With
    /// <paramref name="keep"/> false (a read of a few rows, such as kernel-shap's background rows spread over the table) a group
    /// not kept is decoded for this read alone and displaces none that shards are reading.
    /// </summary>
    public async Task<DecodedColumn[]> GetAsync(GroupKey key, Func<Task<DecodedColumn[]>> decode, bool keep, CancellationToken ct)
    {
        Task<DecodedColumn[]>? columns = null;
        lock (_lock)
        {
            var node = _recent.First;
            while (node is not null && node.Value.Key != key) node = node.Next;
            if (node is not null) _recent.Remove(node);
            else if (keep)
            {
                Interlocked.Increment(ref _decodes);
                node = new LinkedListNode<(GroupKey, Task<DecodedColumn[]>)>((key, Task.Run(decode, CancellationToken.None)));
            }
            if (node is not null)
            {
                _recent.AddFirst(node);
                while (_recent.Count > groups) _recent.RemoveLast();
                columns = node.Value.Columns;
            }
        }
        columns ??= decode();
        try { return await columns.WaitAsync(ct); }
        catch when (columns.IsFaulted || columns.IsCanceled)
        {
            // A failed decode is not kept: the next shard tries again (the file may be readable then), and this one reports it.
            lock (_lock)
            {
                for (var node = _recent.First; node is not null; node = node.Next)
                    if (node.Value.Columns == columns) { _recent.Remove(node); break; }
            }
            throw;
        }
    }
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
