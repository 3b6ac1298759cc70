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
        await using var reader = await CreateReaderAsync(_blob, _length, ct);
        for (var g = 0; g < _groupStarts.Length - 1; g++)
        {
            var (from, to) = (Math.Max(start, _groupStarts[g]), Math.Min(start + count, _groupStarts[g + 1]));
            if (from >= to) continue;
            using var group = reader.OpenRowGroupReader(g);
            var rows = checked((int)group.RowCount);
            for (var c = 0; c < columns.Length; c++)
            {
                var values = await ColumnAsync(group, _fields[columns[c]], rows, _blob.Location, ct);
                Array.Copy(values, from - _groupStarts[g], cells[c], from - start, to - from);
            }
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

    private static async Task<object?[]> ColumnAsync(ParquetRowGroupReader group, DataField field, int n, string location, CancellationToken ct)
    {
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var text = new string?[n];
            await group.ReadAsync(field, text.AsMemory(), cancellationToken: ct);
            return [.. text.Select(t => string.IsNullOrEmpty(t) ? null : (object)t)];
        }
        return field.ClrType switch
        {
            var t when t == typeof(double) => await NumbersAsync<double>(group, field, n, v => v, ct),
            var t when t == typeof(float) => await NumbersAsync<float>(group, field, n, v => v, ct),
            var t when t == typeof(long) => await NumbersAsync<long>(group, field, n, v => v, ct),
            var t when t == typeof(int) => await NumbersAsync<int>(group, field, n, v => v, ct),
            var t when t == typeof(short) => await NumbersAsync<short>(group, field, n, v => v, ct),
            _ => throw new ExplainException($"{location}: column \"{field.Name}\" is {field.ClrType.Name}; table columns are text or numbers"),
        };
    }

    private static async Task<object?[]> NumbersAsync<T>(ParquetRowGroupReader group, DataField field, int n, Func<T, double> toDouble, CancellationToken ct)
        where T : struct
    {
        if (field.IsNullable)
        {
            var values = new T?[n];
            await group.ReadAsync<T>(field, values.AsMemory(), cancellationToken: ct);
            return [.. values.Select(v => v is { } x ? (object)toDouble(x) : null)];
        }
        var dense = new T[n];
        await group.ReadAsync<T>(field, dense.AsMemory(), cancellationToken: ct);
        return [.. dense.Select(v => (object)toDouble(v))];
    }
}
