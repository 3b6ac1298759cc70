using ExplainCluster.Engine.Storage;
using Parquet;
using ColumnChunk = Parquet.Meta.ColumnChunk;
using Parquet.Schema;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A Parquet table read by row groups: a range of rows reads only the row groups it overlaps, and of them only the
/// columns asked for, through ranged reads (<see cref="BlobStream"/>). Text columns give strings (empty: missing),
/// numeric ones doubles; nulls are missing values. The footer is read once, by Parquet.Net, when the table is opened; column
/// chunks are decoded by <see cref="ColumnChunkReader"/> where it decodes them (into buffers the read reuses), and by Parquet.Net
/// otherwise, through a reader opened for the read only then.
/// </summary>
public sealed class ParquetTable : ITableFile
{
    private readonly IBlob _blob;
    private readonly long _length;
    private readonly long[] _groupStarts;
    private readonly DataField[] _fields;
    /// <summary>Per row group, each field's column chunk as the footer describes it (Parquet.Net's own match of field and chunk).</summary>
    private readonly ColumnChunk?[][] _chunks;

    private readonly string _version;
    private readonly RowGroupCache _cache;

    /// <summary>A read's buffers, kept between the reads of this table (kernel-shap's background: a read a row); null while a read has them.</summary>
    private ColumnBuffers? _spare;

    private ParquetTable(IBlob blob, long length, string version, DataField[] fields, long[] groupStarts, ColumnChunk?[][] chunks, RowGroupCache cache)
    {
        _blob = blob;
        _length = length;
        _version = version;
        _fields = fields;
        _groupStarts = groupStarts;
        _chunks = chunks;
        _cache = cache;
    }

    public string[] Columns => [.. _fields.Select(f => f.Name)];

    public long Count => _groupStarts[^1];

    public string Version => _version;

    /// <summary>
    /// Whether column chunks are decoded by <see cref="ColumnChunkReader"/> where it can (the default), or all of them by
    /// Parquet.Net, as before it (for comparisons: the tests and <c>explain-bench parquet-read</c>).
    /// </summary>
    public bool OwnChunkReader { get; set; } = true;

    private int _ownChunks, _parquetNetChunks, _readers;

    /// <summary>How many column chunks this table decoded with <see cref="ColumnChunkReader"/>, and how many with Parquet.Net.</summary>
    internal (int Own, int ParquetNet) ChunksDecoded => (Volatile.Read(ref _ownChunks), Volatile.Read(ref _parquetNetChunks));

    /// <summary>How many Parquet.Net readers (each parsing the footer again) this table opened to decode chunks since it was opened.</summary>
    internal int ReadersOpened => Volatile.Read(ref _readers);

    /// <summary>Whether <paramref name="blob"/> starts with Parquet's magic (PAR1).</summary>
    public static async Task<bool> IsParquetAsync(IBlob blob, long length, CancellationToken ct) =>
        length >= 4 && await blob.ReadRangeAsync(0, 4, ct) is var magic && "PAR1"u8.SequenceEqual(magic);

    /// <param name="cache">Where groups that shards read in part are kept (<see cref="RowGroupCache.Shared"/> unless given).</param>
    /// <param name="version">The blob's version when the caller has it (<see cref="IBlob.StatAsync"/>); asked for otherwise.</param>
    public static async Task<ParquetTable> OpenAsync(IBlob blob, long length, CancellationToken ct, RowGroupCache? cache = null, string? version = null)
    {
        version ??= await blob.VersionAsync(ct);
        await using var reader = await CreateReaderAsync(blob, length, ct);
        var fields = reader.Schema.GetDataFields();
        var starts = new long[reader.RowGroupCount + 1];
        var chunks = new ColumnChunk?[reader.RowGroupCount][];
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            starts[g + 1] = starts[g] + group.RowCount;
            chunks[g] = [.. fields.Select(group.GetMetadata)];
        }
        return new ParquetTable(blob, length, version, fields, starts, chunks, cache ?? RowGroupCache.Shared);
    }

    /// <summary>The fewest rows of a group that a read must take for the group to be kept (<see cref="RowGroupCache"/>).</summary>
    private const int KeepFrom = 64;

    /// <remarks>
    /// A read of part of a group goes through the cache: one of <see cref="KeepFrom"/> rows or more decodes the group whole and
    /// keeps it (or finds it kept); one of fewer rows (kernel-shap's background, a row here and there) takes a view of the group
    /// if it is kept, and otherwise decodes only its own rows. A read of a whole group, or of a group too large to keep, decodes
    /// only the rows it reads.
    /// </remarks>
    public async Task<ColumnCells[]> ReadColumnsAsync(long start, int count, int[] columns, CancellationToken ct)
    {
        var pieces = columns.Select(_ => new List<ColumnCells>(1)).ToArray();
        // One set of decoding buffers for the read, group after group; a decode the cache runs for it is awaited before the next.
        var buffers = Interlocked.Exchange(ref _spare, null) ?? new ColumnBuffers();
        // A Parquet.Net reader, opened only when a chunk of a group decoded outside the cache goes to Parquet.Net.
        await using var parquetNet = new ParquetNetGroups(this);
        for (var g = 0; g < _groupStarts.Length - 1; g++)
        {
            var (from, to) = (Math.Max(start, _groupStarts[g]), Math.Min(start + count, _groupStarts[g + 1]));
            if (from >= to) continue;
            var rows = (int)(_groupStarts[g + 1] - _groupStarts[g]);
            var (offset, taken) = ((int)(from - _groupStarts[g]), (int)(to - from));
            var decoded = taken < rows && _cache.Admits(columns.Sum(c => RowGroupCache.Bytes(rows, IsText(_fields[c].ClrType))))
                ? await CachedAsync(new GroupKey(_blob.Location, _length, _version, g, string.Join(',', columns)), g, columns, taken, buffers, ct)
                : null;
            if (decoded is null) (decoded, offset) = (await DecodeAsync(parquetNet, g, columns, offset, taken, buffers, ct), 0);
            for (var c = 0; c < columns.Length; c++) pieces[c].Add(new ColumnCells(decoded[c], offset, taken));
        }
        // Only a read that ends well hands its buffers on: then no decode it started is still using them.
        Volatile.Write(ref _spare, buffers);
        return [.. pieces.Select(ColumnCells.Join)];
    }

    /// <summary>
    /// Group <paramref name="g"/> decoded whole through the cache for a read of <paramref name="taken"/> of its rows: decoded and
    /// kept for a read of <see cref="KeepFrom"/> rows or more, found kept or null for fewer.
    /// </summary>
    private async Task<DecodedColumn[]?> CachedAsync(GroupKey key, int g, int[] columns, int taken, ColumnBuffers buffers, CancellationToken ct)
    {
        if (taken < KeepFrom) return await _cache.FindAsync(key, ct);
        return await _cache.GetAsync(key, async () =>
        {
            // Its own Parquet.Net reader where one is needed: the shard that started the decode may be cancelled while others wait for it.
            await using var parquetNet = new ParquetNetGroups(this);
            return await DecodeAsync(parquetNet, g, columns, 0, (int)(_groupStarts[g + 1] - _groupStarts[g]), buffers, CancellationToken.None);
        }, ct);
    }

    private static Task<ParquetReader> CreateReaderAsync(IBlob blob, long length, CancellationToken ct) =>
        ReaderAsync(new BlobStream(blob, length), blob.Location, ct);

    /// <summary>
    /// Parquet.Net's reader of <paramref name="stream"/>, or a one-line error naming <paramref name="location"/> when the file is not
    /// Parquet or its footer does not parse (Parquet.Net's Thrift error included, which derives from none of the I/O exceptions).
    /// </summary>
    internal static async Task<ParquetReader> ReaderAsync(Stream stream, string location, CancellationToken ct)
    {
        try { return await ParquetReader.CreateAsync(stream, cancellationToken: ct); }
        catch (Exception e) when (e is IOException or InvalidDataException or NotSupportedException or ArgumentException or Parquet.Meta.Proto.ThriftProtocolException)
        {
            throw new ExplainException($"{location}: not a readable Parquet file: {e.Message}", e);
        }
    }

    /// <summary>
    /// Rows [<paramref name="from"/>, +<paramref name="count"/>) of row group <paramref name="g"/>'s <paramref name="columns"/>: by
    /// <see cref="ColumnChunkReader"/> where it can, the rest by Parquet.Net (a chunk decoded whole, the rows copied out), through
    /// buffers that the read's columns share.
    /// </summary>
    private async Task<DecodedColumn[]> DecodeAsync(ParquetNetGroups parquetNet, int g, int[] columns, int from, int count, ColumnBuffers buffers,
        CancellationToken ct)
    {
        var rows = (int)(_groupStarts[g + 1] - _groupStarts[g]);
        var decoded = new DecodedColumn[columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            var field = _fields[columns[c]];
            ExplainException? corrupt = null;
            try
            {
                if (OwnChunkReader && await buffers.Chunks.ReadAsync(_blob, _length, _chunks[g][columns[c]], field, rows, from, count, ct) is { } own)
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
            try { decoded[c] = await ColumnAsync(await parquetNet.GroupAsync(g, ct), field, rows, from, count, buffers, _blob.Location, ct); }
            catch (Exception e) when (corrupt is not null && e is not OperationCanceledException) { throw corrupt; }
        }
        return decoded;
    }

    /// <summary>Rows [<paramref name="from"/>, +<paramref name="count"/>) of a chunk of <paramref name="n"/> rows, decoded whole by Parquet.Net.</summary>
    private static async Task<DecodedColumn> ColumnAsync(ParquetRowGroupReader group, DataField field, int n, int from, int count, ColumnBuffers buffers,
        string location, CancellationToken ct)
    {
        if (IsText(field.ClrType))
        {
            if (from == 0 && count == n)
            {
                var text = new string?[n];
                await group.ReadAsync(field, text.AsMemory(), cancellationToken: ct);
                return new DecodedColumn.Texts(text);
            }
            var all = buffers.Get<string?>(n);
            await group.ReadAsync(field, all, cancellationToken: ct);
            return new DecodedColumn.Texts(all.Span.Slice(from, count).ToArray());
        }
        return field.ClrType switch
        {
            var t when t == typeof(double) => await NumbersAsync<double>(group, field, n, from, count, buffers, v => v, ct),
            var t when t == typeof(float) => await NumbersAsync<float>(group, field, n, from, count, buffers, v => v, ct),
            var t when t == typeof(long) => await NumbersAsync<long>(group, field, n, from, count, buffers, v => v, ct),
            var t when t == typeof(int) => await NumbersAsync<int>(group, field, n, from, count, buffers, v => v, ct),
            var t when t == typeof(short) => await NumbersAsync<short>(group, field, n, from, count, buffers, v => v, ct),
            _ => throw new ExplainException($"{location}: column \"{field.Name}\" is {field.ClrType.Name}; table columns are text or numbers"),
        };
    }

    /// <summary>Whether a column of Parquet.Net's type <paramref name="clrType"/> is read as text.</summary>
    internal static bool IsText(Type clrType) => clrType == typeof(string) || clrType == typeof(ReadOnlyMemory<char>);

    private static async Task<DecodedColumn> NumbersAsync<T>(ParquetRowGroupReader group, DataField field, int n, int from, int count,
        ColumnBuffers buffers, Func<T, double> toDouble, CancellationToken ct)
        where T : struct
    {
        var values = new double[count];
        if (field.IsNullable)
        {
            var read = buffers.Get<T?>(n);
            await group.ReadAsync<T>(field, read, cancellationToken: ct);
            bool[]? missing = null;
            var span = read.Span.Slice(from, count);
            for (var r = 0; r < count; r++)
            {
                if (span[r] is { } x) values[r] = toDouble(x);
                else (missing ??= new bool[count])[r] = true;
            }
            return new DecodedColumn.Numbers(values, missing);
        }
        var dense = buffers.Get<T>(n);
        await group.ReadAsync<T>(field, dense, cancellationToken: ct);
        var rows = dense.Span.Slice(from, count);
        for (var r = 0; r < count; r++) values[r] = toDouble(rows[r]);
        return new DecodedColumn.Numbers(values, null);
    }

    /// <summary>
    /// One decoding buffer per element type for the columns of one read, reused column after column and row group after row group
    /// (a row group's rows at most), and <see cref="ColumnChunkReader"/>'s buffers. Not the shared array pool: it keeps what it is
    /// given per thread and per core, and a silo's threads would hold a row group's worth of each type for minutes. A table keeps
    /// one set between its reads (a shard's table lives for the shard's pipeline), so that the background's reads of a row each
    /// share one.
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

    /// <summary>
    /// A Parquet.Net reader of this table for one read or decode, opened at the first chunk that goes to Parquet.Net (parsing the
    /// footer again), with the row group it has open.
    /// </summary>
    private sealed class ParquetNetGroups(ParquetTable table) : IAsyncDisposable
    {
        private ParquetReader? _reader;
        private ParquetRowGroupReader? _group;
        private int _g = -1;

        public async Task<ParquetRowGroupReader> GroupAsync(int g, CancellationToken ct)
        {
            if (_g == g) return _group!;
            if (_reader is null)
            {
                _reader = await CreateReaderAsync(table._blob, table._length, ct);
                Interlocked.Increment(ref table._readers);
            }
            _group?.Dispose();
            (_group, _g) = (_reader.OpenRowGroupReader(g), g);
            return _group;
        }

        public async ValueTask DisposeAsync()
        {
            _group?.Dispose();
            if (_reader is not null) await _reader.DisposeAsync();
        }
    }
}
