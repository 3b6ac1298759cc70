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
    /// The columns of <paramref name="key"/>'s group, decoded by <paramref name="decode"/> and kept unless a shard already has (a read
    /// of a few rows, such as kernel-shap's background rows spread over the table, uses <see cref="FindAsync"/> instead).
    /// </summary>
    public Task<DecodedColumn[]> GetAsync(GroupKey key, Func<Task<DecodedColumn[]>> decode, CancellationToken ct) =>
        _groups.GetAsync(key, decode, ct);

    /// <summary>
    /// The columns of <paramref name="key"/>'s group if a shard has decoded them (or is decoding them) and they are kept; null
    /// otherwise. For a read of a few rows, which decodes only its own rows of a group not kept.
    /// </summary>
    public Task<DecodedColumn[]?> FindAsync(GroupKey key, CancellationToken ct) => _groups.FindAsync(key, ct);
}

/// <summary>One row group of one version of a file, with the columns read from it (<see cref="Columns"/>: their indices, joined).</summary>
public readonly record struct GroupKey(string Location, long Length, string Version, int Group, string Columns);

/// <summary>A column chunk decoded: numbers as doubles (with which are missing), or text (null or empty: missing).</summary>
public abstract class DecodedColumn
{
    public abstract bool IsMissing(int row);

    /// <summary>The row's number, when the column holds numbers (false for text, which the reader parses).</summary>
    public abstract bool TryNumber(int row, out double value);

    /// <summary>The row's value as text (a number as invariant-culture text); only for a row that is not missing.</summary>
    public abstract string Text(int row);

    /// <summary>Consecutive pieces of columns of this kind copied, in order, into one new column.</summary>
    public abstract DecodedColumn Join(IReadOnlyList<ColumnCells> pieces);

    public sealed class Numbers(double[] values, bool[]? missing) : DecodedColumn
    {
        public override bool IsMissing(int row) => missing is not null && missing[row];

        public override bool TryNumber(int row, out double value)
        {
            value = values[row];
            return true;
        }

        public override string Text(int row) => values[row].ToString(System.Globalization.CultureInfo.InvariantCulture);

        public override DecodedColumn Join(IReadOnlyList<ColumnCells> pieces)
        {
            var n = pieces.Sum(p => p.Count);
            var (joined, absent) = (new double[n], pieces.Any(p => p.Column is Numbers { Missing: not null }) ? new bool[n] : null);
            var at = 0;
            foreach (var piece in pieces)
            {
                var from = (Numbers)piece.Column;
                Array.Copy(from.Values, piece.Offset, joined, at, piece.Count);
                if (from.Missing is not null) Array.Copy(from.Missing, piece.Offset, absent!, at, piece.Count);
                at += piece.Count;
            }
            return new Numbers(joined, absent);
        }

        internal double[] Values => values;

        internal bool[]? Missing => missing;
    }

    public sealed class Texts(string?[] values) : DecodedColumn
    {
        public override bool IsMissing(int row) => string.IsNullOrEmpty(values[row]);

        public override bool TryNumber(int row, out double value)
        {
            value = 0;
            return false;
        }

        public override string Text(int row) => values[row]!;

        public override DecodedColumn Join(IReadOnlyList<ColumnCells> pieces)
        {
            var joined = new string?[pieces.Sum(p => p.Count)];
            var at = 0;
            foreach (var piece in pieces)
            {
                Array.Copy(((Texts)piece.Column).Values, piece.Offset, joined, at, piece.Count);
                at += piece.Count;
            }
            return new Texts(joined);
        }

        internal string?[] Values => values;
    }
}

/// <summary>
/// A column's cells in one read: rows [<see cref="Offset"/>, +<see cref="Count"/>) of a decoded column, not copied (a read within
/// one row group of a Parquet table is a view of the group as decoded or kept). Replaces a cell per row boxed as an object: a
/// read of 16,384 rows × 32 columns boxed 12 MB of doubles and 4 MB of object arrays (docs/benchmarks.md).
/// </summary>
public sealed class ColumnCells(DecodedColumn column, int offset, int count)
{
    public DecodedColumn Column => column;

    public int Offset => offset;

    public int Count => count;

    public bool IsMissing(int row) => column.IsMissing(offset + row);

    public bool TryNumber(int row, out double value) => column.TryNumber(offset + row, out value);

    public string Text(int row) => column.Text(offset + row);

    /// <summary>The cell as the reader sees it: null (missing), a double or a string.</summary>
    public object? Cell(int row) => IsMissing(row) ? null : TryNumber(row, out var d) ? d : Text(row);

    /// <summary>Consecutive pieces of one column as one: the piece itself when there is one, a copy otherwise.</summary>
    public static ColumnCells Join(IReadOnlyList<ColumnCells> pieces) => pieces switch
    {
        [] => new ColumnCells(new DecodedColumn.Texts([]), 0, 0),
        [var one] => one,
        _ => new ColumnCells(pieces[0].Column.Join(pieces), 0, pieces.Sum(p => p.Count)),
    };
}
