using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A Parquet table read by row groups: a range of rows reads only the row groups it overlaps, and of them only the
/// columns asked for, through ranged reads (<see cref="BlobStream"/>). Text columns give strings (empty: missing),
/// numeric ones doubles; nulls are missing values. The footer and text columns are read by Parquet.Net, numeric column chunks by
/// <see cref="ColumnChunkReader"/> where it decodes them (into buffers the read reuses) and by Parquet.Net otherwise.
/// </summary>
public sealed class ParquetTable : ITableFile
{
    private readonly IBlob _blob;
    private readonly long _length;
    private readonly long[] _groupStarts;
    private readonly DataField[] _fields;

    private readonly string _version;
    private readonly RowGroupCache _cache;

    private ParquetTable(IBlob blob, long length, string version, DataField[] fields, long[] groupStarts, RowGroupCache cache)
    {
        _blob = blob;
        _length = length;
        _version = version;
        _fields = fields;
        _groupStarts = groupStarts;
        _cache = cache;
    }

    public string[] Columns => [.. _fields.Select(f => f.Name)];

    public long Count => _groupStarts[^1];

    public string Version => _version;

    /// <summary>
    /// Whether numeric column chunks are decoded by <see cref="ColumnChunkReader"/> where it can (the default), or all of them by
    /// Parquet.Net, as before it (for comparisons: the tests and <c>explain-bench parquet-read</c>).
    /// </summary>
    public bool OwnChunkReader { get; set; } = true;

    private int _ownChunks, _parquetNetChunks;

    /// <summary>How many column chunks this table decoded with <see cref="ColumnChunkReader"/>, and how many with Parquet.Net.</summary>
    internal (int Own, int ParquetNet) ChunksDecoded => (Volatile.Read(ref _ownChunks), Volatile.Read(ref _parquetNetChunks));

    /// <summary>Whether <paramref name="blob"/> starts with Parquet's magic (PAR1).</summary>
    public static async Task<bool> IsParquetAsync(IBlob blob, long length, CancellationToken ct) =>
        length >= 4 && await blob.ReadRangeAsync(0, 4, ct) is var magic && "PAR1"u8.SequenceEqual(magic);

    /// <param name="cache">Where groups that shards read in part are kept (<see cref="RowGroupCache.Shared"/> unless given).</param>
    /// <param name="version">The blob's version when the caller has it (<see cref="IBlob.StatAsync"/>); asked for otherwise.</param>
    public static async Task<ParquetTable> OpenAsync(IBlob blob, long length, CancellationToken ct, RowGroupCache? cache = null, string? version = null)
    {
        version ??= await blob.VersionAsync(ct);
        await using var reader = await CreateReaderAsync(blob, length, ct);
        var starts = new long[reader.RowGroupCount + 1];
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            starts[g + 1] = starts[g] + group.RowCount;
        }
        return new ParquetTable(blob, length, version, reader.Schema.GetDataFields(), starts, cache ?? RowGroupCache.Shared);
    }

    /// <summary>The fewest rows of a group that a read must take for the group to be kept (<see cref="RowGroupCache"/>).</summary>
    private const int KeepFrom = 64;

    public async Task<ColumnCells[]> ReadColumnsAsync(long start, int count, int[] columns, CancellationToken ct)
    {
        var pieces = columns.Select(_ => new List<ColumnCells>(1)).ToArray();
        // One set of decoding buffers for the read, group after group; a decode the cache runs for it is awaited before the next.
        var buffers = new ColumnBuffers();
        // Opened only for a group read outside the cache: a shard whose groups are all kept reads no footer again.
        ParquetReader? reader = null;
        try
        {
            for (var g = 0; g < _groupStarts.Length - 1; g++)
            {
                var (from, to) = (Math.Max(start, _groupStarts[g]), Math.Min(start + count, _groupStarts[g + 1]));
                if (from >= to) continue;
                var rows = _groupStarts[g + 1] - _groupStarts[g];
                var decoded = to - from < rows && _cache.Admits(columns.Sum(c => RowGroupCache.Bytes(rows, IsText(_fields[c]))))
                    ? await _cache.GetAsync(new GroupKey(_blob.Location, _length, _version, g, string.Join(',', columns)), async () =>
                    {
                        // Its own reader: the shard that started the decode may be cancelled while others wait for it.
                        await using var own = await CreateReaderAsync(_blob, _length, CancellationToken.None);
                        return await DecodeAsync(own, g, columns, buffers, CancellationToken.None);
                    }, keep: to - from >= KeepFrom, ct)
                    : await DecodeAsync(reader ??= await CreateReaderAsync(_blob, _length, ct), g, columns, buffers, ct);
                for (var c = 0; c < columns.Length; c++) pieces[c].Add(new ColumnCells(decoded[c], (int)(from - _groupStarts[g]), (int)(to - from)));
            }
            return [.. pieces.Select(ColumnCells.Join)];
        }
        finally
        {
            if (reader is not null) await reader.DisposeAsync();
        }
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
    /// Row group <paramref name="g"/>'s <paramref name="columns"/>, each column chunk decoded whole: numbers by
    /// <see cref="ColumnChunkReader"/> where it can, the rest by Parquet.Net, through buffers that the read's columns share.
    /// </summary>
    private async Task<DecodedColumn[]> DecodeAsync(ParquetReader reader, int g, int[] columns, ColumnBuffers buffers, CancellationToken ct)
    {
        using var group = reader.OpenRowGroupReader(g);
        var rows = checked((int)group.RowCount);
        var decoded = new DecodedColumn[columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            var field = _fields[columns[c]];
            ExplainException? corrupt = null;
            try
            {
                if (OwnChunkReader && !IsText(field) && await buffers.Chunks.ReadAsync(_blob, _length, group.GetMetadata(field), field, rows, ct) is { } own)
                {
                    Interlocked.Increment(ref _ownChunks);
                    decoded[c] = own;
                    continue;
                }
            }
            catch (ExplainException e) { corrupt = e; }
            Interlocked.Increment(ref _parquetNetChunks);
            // A chunk the reader found corrupt is given to Parquet.Net too, so that no file it read before is refused now; the
            // reader's one-line error stands when Parquet.Net fails as well.
            try { decoded[c] = await ColumnAsync(group, field, rows, buffers, _blob.Location, ct); }
            catch (Exception e) when (corrupt is not null && e is not OperationCanceledException) { throw corrupt; }
        }
        return decoded;
    }

    private static async Task<DecodedColumn> ColumnAsync(ParquetRowGroupReader group, DataField field, int n, ColumnBuffers buffers,
        string location, CancellationToken ct)
    {
        if (IsText(field))
        {
            var text = new string?[n];
            await group.ReadAsync(field, text.AsMemory(), cancellationToken: ct);
            return new DecodedColumn.Texts(text);
        }
        return field.ClrType switch
        {
            var t when t == typeof(double) => await NumbersAsync<double>(group, field, n, buffers, v => v, ct),
            var t when t == typeof(float) => await NumbersAsync<float>(group, field, n, buffers, v => v, ct),
            var t when t == typeof(long) => await NumbersAsync<long>(group, field, n, buffers, v => v, ct),
            var t when t == typeof(int) => await NumbersAsync<int>(group, field, n, buffers, v => v, ct),
            var t when t == typeof(short) => await NumbersAsync<short>(group, field, n, buffers, v => v, ct),
            _ => throw new ExplainException($"{location}: column \"{field.Name}\" is {field.ClrType.Name}; table columns are text or numbers"),
        };
    }

    private static bool IsText(DataField field) => field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>);

    private static async Task<DecodedColumn> NumbersAsync<T>(ParquetRowGroupReader group, DataField field, int n, ColumnBuffers buffers,
        Func<T, double> toDouble, CancellationToken ct)
        where T : struct
    {
        var values = new double[n];
        if (field.IsNullable)
        {
            var read = buffers.Get<T?>(n);
            await group.ReadAsync<T>(field, read, cancellationToken: ct);
            bool[]? missing = null;
            var span = read.Span;
            for (var r = 0; r < n; r++)
            {
                if (span[r] is { } x) values[r] = toDouble(x);
                else (missing ??= new bool[n])[r] = true;
            }
            return new DecodedColumn.Numbers(values, missing);
        }
        var dense = buffers.Get<T>(n);
        await group.ReadAsync<T>(field, dense, cancellationToken: ct);
        var rows = dense.Span;
        for (var r = 0; r < n; r++) values[r] = toDouble(rows[r]);
        return new DecodedColumn.Numbers(values, null);
    }

    /// <summary>
    /// One decoding buffer per element type for the columns of one read, reused column after column and row group after row group
    /// (a row group's rows at most), and <see cref="ColumnChunkReader"/>'s buffers. Not the shared array pool: it keeps what it is
    /// given per thread and per core, and a silo's threads would hold a row group's worth of each type for minutes.
    /// </summary>
    private sealed class ColumnBuffers
    {
        private readonly Dictionary<Type, Array> _buffers = [];

        public ColumnChunkReader Chunks { get; } = new();

        public Memory<T> Get<T>(int n)
        {
            if (!_buffers.TryGetValue(typeof(T), out var buffer) || buffer.Length < n) _buffers[typeof(T)] = buffer = new T[n];
            return ((T[])buffer).AsMemory(0, n);
        }
    }
}
