using System.Buffers.Binary;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// A shard's rows as every level of the error tree counts them: each row's bin in each usable column (<see cref="ErrorTreeGrowth.Codes"/>)
/// and whether the explain pass's prediction missed its label. They depend on the tree's columns, not on its nodes, so a silo keeps
/// them from one level to the next (<see cref="TreeRowsCache"/>) instead of reading the shard's rows from the table again.
/// </summary>
public sealed class TreeRows
{
    private readonly long _start;
    private readonly long[]? _kept;
    private readonly ReadOnlyMemory<byte>? _small; // a byte a code: its own array, or a slice of the staged file's bytes as read
    private readonly int[]? _large;

    private TreeRows(long start, long[]? kept, int count, int width, ReadOnlyMemory<byte>? small, int[]? large, bool[] errors)
    {
        (_start, _kept, Count, Width, _small, _large, Errors) = (start, kept, count, width, small, large, errors);
    }

    public int Count { get; }

    /// <summary>The usable columns: codes a row.</summary>
    public int Width { get; }

    /// <summary>Whether each row's prediction missed its label.</summary>
    public bool[] Errors { get; }

    /// <summary>Whether the codes fit a byte each (every usable column has at most 256 bins): only those are kept between levels.</summary>
    public bool Compact => _small is not null;

    /// <summary>What the rows hold, about.</summary>
    public long Bytes => (_small?.Length ?? 0) + (_large?.LongLength ?? 0) * sizeof(int) + Errors.LongLength + (_kept?.LongLength ?? 0) * sizeof(long);

    public long IndexOf(int row) => SampleRows.IndexOf(_start, _kept, row);

    /// <summary>Row <paramref name="row"/>'s codes, into <paramref name="codes"/> (<see cref="Width"/> of them).</summary>
    public void CodesOf(int row, int[] codes)
    {
        if (_small is { } small)
        {
            var own = small.Span.Slice(row * Width, Width);
            for (var c = 0; c < Width; c++) codes[c] = own[c];
        }
        else _large.AsSpan(row * Width, Width).CopyTo(codes);
    }

    private const int Magic = 0x31525445; // "ETR1"

    /// <summary>
    /// Compact rows as the file a tree attempt stages beside the explain attempt's parts (<see cref="Output.OutputLayout.TreeRows"/>),
    /// read back at the tree's later levels on any silo instead of the shard's rows from the table: the first row, the kept rows'
    /// indices (none when the shard is every row of its range), the codes a byte each and the errors a byte each, little-endian.
    /// </summary>
    public byte[] Encode()
    {
        var bytes = new byte[EncodedLength];
        Encode(bytes);
        return bytes;
    }

    /// <summary>The length of <see cref="Encode()"/>'s bytes.</summary>
    public int EncodedLength => checked(24 + (_kept?.Length ?? 0) * 8 + (_small?.Length ?? 0) + Count);

    /// <summary><see cref="Encode()"/> into the first <see cref="EncodedLength"/> bytes of <paramref name="span"/> (a rented buffer).</summary>
    public void Encode(Span<byte> span)
    {
        if (_small is not { } small) throw new InvalidOperationException("only compact rows (a byte a code) are staged");
        var kept = _kept ?? [];
        BinaryPrimitives.WriteInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(span[4..], _start);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], Count);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], Width);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], _kept is null ? -1 : kept.Length);
        var at = 24;
        foreach (var index in kept)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[at..], index);
            at += 8;
        }
        small.Span.CopyTo(span[at..]);
        at += small.Length;
        for (var i = 0; i < Count; i++) span[at + i] = Errors[i] ? (byte)1 : (byte)0;
    }

    /// <summary>
    /// Rows staged by <see cref="Encode()"/>; null when the bytes are not such a file (the caller reads the table instead). The codes
    /// stay in <paramref name="file"/>, not copied: the caller hands over the bytes it read.
    /// </summary>
    public static TreeRows? Decode(ReadOnlyMemory<byte> file)
    {
        var bytes = file.Span;
        if (bytes.Length < 24 || BinaryPrimitives.ReadInt32LittleEndian(bytes) != Magic) return null;
        var start = BinaryPrimitives.ReadInt64LittleEndian(bytes[4..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]);
        var width = BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]);
        var keptCount = BinaryPrimitives.ReadInt32LittleEndian(bytes[20..]);
        if (count < 0 || width < 0 || keptCount < -1 || bytes.Length != 24 + Math.Max(0, keptCount) * 8L + (long)count * width + count) return null;
        var at = 24;
        long[]? kept = keptCount < 0 ? null : new long[keptCount];
        for (var k = 0; k < keptCount; k++, at += 8) kept![k] = BinaryPrimitives.ReadInt64LittleEndian(bytes[at..]);
        var small = file.Slice(at, count * width);
        at += small.Length;
        var errors = new bool[count];
        for (var i = 0; i < count; i++) errors[i] = bytes[at + i] != 0;
        return new TreeRows(start, kept, count, width, small, null, errors);
    }

    /// <param name="predictions">Each row's predicted class, in the shard's row order.</param>
    public static TreeRows Of(ErrorTreeGrowth g, TableSpec table, ShardData data, long[] predictions, CancellationToken ct = default)
    {
        if (data.Labels is not { } labels) throw new ExplainException("the error tree needs the table's labels (data.label)");
        if (predictions.Length != data.Count) throw new ExplainException($"shard at {data.Start}: its staged samples part has {predictions.Length} rows, the shard {data.Count}");
        var usable = g.Usable;
        var width = table.Features.Sum(x => x.Width);
        var metadata = g.Metadata.Select(name => data.Metadata?.Single(c => c.Name == name).Values).ToArray();
        var compact = usable.All(c => c.Tree.Bins <= 256);
        var (small, large) = compact ? (new byte[(long)data.Count * usable.Length], null) : ((byte[]?)null, new int[(long)data.Count * usable.Length]);
        var errors = new bool[data.Count];
        for (var i = 0; i < data.Count; i++)
        {
            if ((i & 4095) == 0) ct.ThrowIfCancellationRequested();
            var values = ErrorTreeFeature.Values(table, data.Raw.AsSpan(i * width, width));
            var codes = g.Codes(usable, values, [.. metadata.Select(m => m?[i])]);
            for (var c = 0; c < codes.Length; c++)
                if (small is not null) small[i * codes.Length + c] = (byte)codes[c];
                else large![i * codes.Length + c] = codes[c];
            errors[i] = labels[i] != predictions[i];
        }
        return new TreeRows(data.Start, data.Kept, data.Count, usable.Length, small is null ? null : small, large, errors); // a null array is no codes, not empty ones
    }
}
