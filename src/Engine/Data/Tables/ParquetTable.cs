using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A Parquet table read by row groups: a range of rows reads only the row groups it overlaps, and of them only the
/// columns asked for, through ranged reads (<see cref="BlobStream"/>). Text columns give strings (empty: missing),
/// numeric ones doubles; nulls are missing values.
/// </summary>
public sealed class ParquetTable : ITableFile
{
    private readonly IBlob _blob;
    private readonly long _length;
    private readonly long[] _groupStarts;
    private readonly DataField[] _fields;

    private ParquetTable(IBlob blob, long length, DataField[] fields, long[] groupStarts)
    {
        _blob = blob;
        _length = length;
        _fields = fields;
        _groupStarts = groupStarts;
    }

    public string[] Columns => [.. _fields.Select(f => f.Name)];

    public long Count => _groupStarts[^1];

    /// <summary>Whether <paramref name="blob"/> starts with Parquet's magic (PAR1).</summary>
    public static async Task<bool> IsParquetAsync(IBlob blob, long length, CancellationToken ct) =>
        length >= 4 && await blob.ReadRangeAsync(0, 4, ct) is var magic && "PAR1"u8.SequenceEqual(magic);

    public static async Task<ParquetTable> OpenAsync(IBlob blob, long length, CancellationToken ct)
    {
        await using var reader = await CreateReaderAsync(blob, length, ct);
        var starts = new long[reader.RowGroupCount + 1];
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            starts[g + 1] = starts[g] + group.RowCount;
        }
        return new ParquetTable(blob, length, reader.Schema.GetDataFields(), starts);
    }

    public async Task<object?[][]> ReadAsync(long start, int count, int[] columns, CancellationToken ct)
    {
        var cells = columns.Select(_ => new object?[count]).ToArray();
        var buffers = new ColumnBuffers();
        await using var reader = await CreateReaderAsync(_blob, _length, ct);
        for (var g = 0; g < _groupStarts.Length - 1; g++)
        {
            var (from, to) = (Math.Max(start, _groupStarts[g]), Math.Min(start + count, _groupStarts[g + 1]));
            if (from >= to) continue;
            using var group = reader.OpenRowGroupReader(g);
            var rows = checked((int)group.RowCount);
            var wanted = new Slice((int)(from - _groupStarts[g]), (int)(to - from), (int)(from - start));
            for (var c = 0; c < columns.Length; c++)
                await ColumnAsync(group, _fields[columns[c]], rows, wanted, cells[c], buffers, _blob.Location, ct);
        }
        return cells;
    }

    private static async Task<ParquetReader> CreateReaderAsync(IBlob blob, long length, CancellationToken ct)
    {
        try { return await ParquetReader.CreateAsync(new BlobStream(blob, length), cancellationToken: ct); }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException)
        {
            throw new ExplainException($"{blob.Location}: not a readable Parquet file: {e.Message}", e);
        }
    }

    /// <summary>
    /// A column chunk is decoded whole (Parquet.Net reads no less) into a buffer that the read's columns of a type share, and only
    /// the rows of <paramref name="wanted"/> become cells. A shard of 16,384 rows in a row group of 65,536 used to decode each column
    /// into an array of its own and box every row of the group: 65 MB of garbage a shard of the 30-feature table, most of it on the
    /// large object heap.
    /// </summary>
    private static async Task ColumnAsync(ParquetRowGroupReader group, DataField field, int n, Slice wanted, object?[] cells, ColumnBuffers buffers,
        string location, CancellationToken ct)
    {
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var text = buffers.Get<string?>(n);
            await group.ReadAsync(field, text, cancellationToken: ct);
            var span = text.Span.Slice(wanted.From, wanted.Count);
            for (var r = 0; r < span.Length; r++) cells[wanted.To + r] = string.IsNullOrEmpty(span[r]) ? null : span[r];
            return;
        }
        var read = field.ClrType switch
        {
            var t when t == typeof(double) => NumbersAsync<double>(group, field, n, wanted, cells, buffers, v => v, ct),
            var t when t == typeof(float) => NumbersAsync<float>(group, field, n, wanted, cells, buffers, v => v, ct),
            var t when t == typeof(long) => NumbersAsync<long>(group, field, n, wanted, cells, buffers, v => v, ct),
            var t when t == typeof(int) => NumbersAsync<int>(group, field, n, wanted, cells, buffers, v => v, ct),
            var t when t == typeof(short) => NumbersAsync<short>(group, field, n, wanted, cells, buffers, v => v, ct),
            _ => throw new ExplainException($"{location}: column \"{field.Name}\" is {field.ClrType.Name}; table columns are text or numbers"),
        };
        await read;
    }

    private static async Task NumbersAsync<T>(ParquetRowGroupReader group, DataField field, int n, Slice wanted, object?[] cells, ColumnBuffers buffers,
        Func<T, double> toDouble, CancellationToken ct)
        where T : struct
    {
        if (field.IsNullable)
        {
            var values = buffers.Get<T?>(n);
            await group.ReadAsync<T>(field, values, cancellationToken: ct);
            var span = values.Span.Slice(wanted.From, wanted.Count);
            for (var r = 0; r < span.Length; r++) cells[wanted.To + r] = span[r] is { } x ? toDouble(x) : null;
            return;
        }
        var dense = buffers.Get<T>(n);
        await group.ReadAsync<T>(field, dense, cancellationToken: ct);
        var rows = dense.Span.Slice(wanted.From, wanted.Count);
        for (var r = 0; r < rows.Length; r++) cells[wanted.To + r] = toDouble(rows[r]);
    }

    /// <summary>Rows [<see cref="From"/>, +<see cref="Count"/>) of a row group, to cells from <see cref="To"/> on.</summary>
    private readonly record struct Slice(int From, int Count, int To);

    /// <summary>
    /// One decoding buffer per element type for the columns of one read, reused column after column and row group after row group
    /// (a row group's rows at most). Not the shared array pool: it keeps what it is given per thread and per core, and a silo's
    /// threads would hold a row group's worth of each type for minutes.
    /// </summary>
    private sealed class ColumnBuffers
    {
        private readonly Dictionary<Type, Array> _buffers = [];

        public Memory<T> Get<T>(int n)
        {
            if (!_buffers.TryGetValue(typeof(T), out var buffer) || buffer.Length < n) _buffers[typeof(T)] = buffer = new T[n];
            return ((T[])buffer).AsMemory(0, n);
        }
    }
}
