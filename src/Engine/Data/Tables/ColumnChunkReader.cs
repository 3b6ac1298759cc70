using System.Buffers.Binary;
using System.IO.Compression;
using ExplainCluster.Engine.Storage;
using Parquet.Meta;
using Parquet.Schema;
using ParquetType = Parquet.Meta.Type;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// Decodes a numeric Parquet column chunk into doubles, through buffers reused from chunk to chunk: the chunk is read in one
/// ranged read, each page decompressed into one buffer, and the values written straight into the column's array. Parquet.Net
/// reads a chunk through its own streams (its Snappy path copies every page into a <see cref="MemoryStream"/> grown by
/// doubling), 2.4 MB of large objects for a chunk of 65,536 doubles; its API has no way to decode into a caller's buffers.
/// </summary>
/// <remarks>
/// Takes a flat column (no repetition, a definition level of 0 or 1) of DOUBLE, FLOAT, INT32 or INT64 whose Parquet.Net type is
/// the one <see cref="ParquetTable"/> turns into doubles; codecs UNCOMPRESSED, SNAPPY and GZIP; data pages v1 and v2; PLAIN
/// values and dictionaries (a PLAIN dictionary page, RLE/bit-packed indices), mixed in one chunk as pyarrow writes when a
/// dictionary grows too large. Anything else gives null and the caller reads the chunk with Parquet.Net. Not thread-safe: one
/// reader for the columns of one read. Per chunk it allocates the column's values (and missing flags, where a value is
/// missing); per page nothing but, for a gzip page, the inflating stream (small objects).
/// </remarks>
internal sealed class ColumnChunkReader
{
    private byte[] _chunk = [];
    private byte[] _page = [];
    private byte[] _levels = [];
    private int[] _indices = [];
    private double[] _dictionary = [];

    /// <summary>
    /// The chunk of <paramref name="field"/> described by <paramref name="chunk"/>, <paramref name="rows"/> values as doubles and
    /// which are missing (null when none is); null when this reader does not decode such a chunk.
    /// </summary>
    /// <exception cref="ExplainException">The chunk is corrupt: names the file and the column.</exception>
    public async Task<DecodedColumn.Numbers?> ReadAsync(IBlob blob, long length, ColumnChunk? chunk, DataField field, int rows, CancellationToken ct)
    {
        var values = new double[rows];
        return await ReadIntoAsync(blob, length, chunk, field, values, rows, ct) is (true, var missing) ? new DecodedColumn.Numbers(values, missing) : null;
    }

    /// <summary>
    /// As <see cref="ReadAsync"/>, into the first <paramref name="rows"/> of <paramref name="values"/> (a buffer the caller reuses):
    /// whether this reader decodes such a chunk, and which rows are missing (null when none is).
    /// </summary>
    public async Task<(bool Read, bool[]? Missing)> ReadIntoAsync(IBlob blob, long length, ColumnChunk? chunk, DataField field, double[] values, int rows,
        CancellationToken ct)
    {
        if (chunk?.MetaData is not { } meta || chunk.FilePath is not null || KindOf(field, meta) is not { } kind) return (false, null);
        if (meta.Codec is not (CompressionCodec.UNCOMPRESSED or CompressionCodec.SNAPPY or CompressionCodec.GZIP)) return (false, null);
        if (meta.Encodings.Any(e => e is not (Encoding.PLAIN or Encoding.PLAIN_DICTIONARY or Encoding.RLE_DICTIONARY or Encoding.RLE or Encoding.BIT_PACKED)))
            return (false, null);
        var start = meta.DictionaryPageOffset is > 0 and var d && d < meta.DataPageOffset ? d : meta.DataPageOffset;
        if (start < 0 || meta.TotalCompressedSize < 0 || start > length - meta.TotalCompressedSize) throw Corrupt(blob, field, "the chunk lies outside the file");
        if (meta.TotalCompressedSize > Array.MaxLength) return (false, null);
        var size = (int)meta.TotalCompressedSize;
        if (_chunk.Length < size) _chunk = new byte[size];
        await blob.ReadRangeAsync(start, _chunk.AsMemory(0, size), ct);
        bool[]? missing = null;
        try
        {
            return (Decode(size, meta.Codec, kind, field.MaxDefinitionLevel, values.AsSpan(0, rows), ref missing), missing);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IndexOutOfRangeException or ArgumentException or OverflowException)
        {
            throw Corrupt(blob, field, e.Message);
        }
    }

    private static ExplainException Corrupt(IBlob blob, DataField field, string why) =>
        new($"{blob.Location}: column \"{field.Name}\" is not readable Parquet: {why}");

    /// <summary>How a value is stored and turned into a double, as <see cref="ParquetTable"/> does through Parquet.Net's type for the field.</summary>
    private enum Kind { Double, Float, Int64, Int32, Int16 }

    private static Kind? KindOf(DataField field, ColumnMetaData meta)
    {
        if (field.MaxRepetitionLevel != 0 || field.MaxDefinitionLevel != (field.IsNullable ? 1 : 0)) return null;
        return (meta.Type, field.ClrType) switch
        {
            (ParquetType.DOUBLE, var t) when t == typeof(double) => Kind.Double,
            (ParquetType.FLOAT, var t) when t == typeof(float) => Kind.Float,
            (ParquetType.INT64, var t) when t == typeof(long) => Kind.Int64,
            (ParquetType.INT32, var t) when t == typeof(int) => Kind.Int32,
            (ParquetType.INT32, var t) when t == typeof(short) => Kind.Int16,
            _ => null,
        };
    }

    private static int Width(Kind kind) => kind is Kind.Double or Kind.Int64 ? 8 : 4;

    private static double Plain(ReadOnlySpan<byte> data, int i, Kind kind) => kind switch
    {
        Kind.Double => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..])),
        Kind.Float => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..])),
        Kind.Int64 => BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..]),
        Kind.Int32 => BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]),
        _ => (short)BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]),
    };

    /// <summary>The chunk's <paramref name="size"/> bytes, page by page, into <paramref name="values"/>; false at a page this reader does not decode.</summary>
    private bool Decode(int size, CompressionCodec codec, Kind kind, int maxDefinition, Span<double> values, ref bool[]? missing)
    {
        var (row, dictionary, position) = (0, -1, 0);
        while (row < values.Length)
        {
            if (position >= size) throw new InvalidDataException($"the chunk ends after {row} of {values.Length} values");
            var header = PageHeader.Read(_chunk.AsSpan(position, size - position), out var headerLength);
            position += headerLength;
            if (header.CompressedSize > size - position) throw new InvalidDataException("a page runs past the chunk's end");
            var raw = (Offset: position, Count: header.CompressedSize);
            position += header.CompressedSize;
            switch (header.Type)
            {
                case PageHeader.DictionaryPage:
                    if (header.Encoding is not ((int)Encoding.PLAIN or (int)Encoding.PLAIN_DICTIONARY)) return false;
                    var plain = Decompress(raw, codec, header.UncompressedSize);
                    if (plain.Length < (long)header.Values * Width(kind)) throw new InvalidDataException("a dictionary page shorter than its values");
                    if (_dictionary.Length < header.Values) _dictionary = new double[header.Values];
                    for (var i = 0; i < header.Values; i++) _dictionary[i] = Plain(plain, i, kind);
                    dictionary = header.Values;
                    break;
                case PageHeader.DataPage or PageHeader.DataPageV2:
                    if (header.Values > values.Length - row) throw new InvalidDataException($"pages hold more than the group's {values.Length} rows");
                    if (!DataPage(header, raw, codec, kind, maxDefinition, dictionary, values, row, ref missing)) return false;
                    row += header.Values;
                    break;
                default: break; // an index page, or a kind the format may add: not needed for the values
            }
        }
        return true;
    }

    /// <summary>A data page's values into <paramref name="values"/> from <paramref name="row"/> on; false where this reader does not decode it.</summary>
    private bool DataPage(in PageHeader header, (int Offset, int Count) raw, CompressionCodec codec, Kind kind, int maxDefinition, int dictionary,
        Span<double> values, int row, ref bool[]? missing)
    {
        var n = header.Values;
        ReadOnlySpan<byte> levels, body;
        if (header.Type == PageHeader.DataPageV2)
        {
            if (header.RepetitionBytes != 0) return false;
            if (header.DefinitionBytes < 0 || header.DefinitionBytes > raw.Count) throw new InvalidDataException("definition levels longer than their page");
            levels = _chunk.AsSpan(raw.Offset, header.DefinitionBytes);
            var rest = (raw.Offset + header.DefinitionBytes, raw.Count - header.DefinitionBytes);
            body = header.Compressed ? Decompress(rest, codec, header.UncompressedSize - header.DefinitionBytes) : _chunk.AsSpan(rest.Item1, rest.Item2);
        }
        else
        {
            var page = Decompress(raw, codec, header.UncompressedSize);
            if (maxDefinition == 0)
            {
                levels = [];
                body = page;
            }
            else
            {
                if (header.DefinitionEncoding != (int)Encoding.RLE) return false;
                var length = BinaryPrimitives.ReadInt32LittleEndian(page);
                if (length < 0 || length > page.Length - 4) throw new InvalidDataException("definition levels longer than their page");
                levels = page.Slice(4, length);
                body = page[(4 + length)..];
            }
        }
        var flags = Span<byte>.Empty;
        var present = n;
        if (maxDefinition > 0)
        {
            if (_levels.Length < n) _levels = new byte[n];
            flags = _levels.AsSpan(0, n);
            Hybrid.Decode(levels, 1, flags);
            present = n - flags.Count((byte)0);
        }
        var indices = Span<int>.Empty;
        if (present > 0)
        {
            switch (header.Encoding)
            {
                case (int)Encoding.PLAIN:
                    if (body.Length < (long)present * Width(kind)) throw new InvalidDataException("a page shorter than its values");
                    break;
                case (int)Encoding.PLAIN_DICTIONARY or (int)Encoding.RLE_DICTIONARY:
                    if (dictionary < 0) throw new InvalidDataException("dictionary indices without a dictionary page");
                    if (body.Length == 0 || body[0] > 32) throw new InvalidDataException("dictionary indices of more than 32 bits");
                    if (_indices.Length < present) _indices = new int[present];
                    indices = _indices.AsSpan(0, present);
                    Hybrid.Decode(body[1..], body[0], indices);
                    foreach (var index in indices)
                        if ((uint)index >= (uint)dictionary) throw new InvalidDataException($"dictionary index {index} of {dictionary} values");
                    break;
                default: return false;
            }
        }
        var k = 0;
        var dictionaryValues = _dictionary.AsSpan();
        for (var i = 0; i < n; i++)
        {
            if (!flags.IsEmpty && flags[i] == 0) (missing ??= new bool[values.Length])[row + i] = true;
            else values[row + i] = indices.IsEmpty ? Plain(body, k++, kind) : dictionaryValues[indices[k++]];
        }
        return true;
    }

    /// <summary>
    /// A page's <paramref name="raw"/> bytes of the chunk, uncompressed: the chunk's own bytes for UNCOMPRESSED, else the page
    /// buffer, which holds one page at a time.
    /// </summary>
    private ReadOnlySpan<byte> Decompress((int Offset, int Count) raw, CompressionCodec codec, int size)
    {
        if (codec == CompressionCodec.UNCOMPRESSED) return _chunk.AsSpan(raw.Offset, raw.Count);
        if (size < 0) throw new InvalidDataException("a negative page size");
        if (_page.Length < size) _page = new byte[size];
        var page = _page.AsSpan(0, size);
        if (codec == CompressionCodec.SNAPPY)
        {
            if (Snappier.Snappy.Decompress(_chunk.AsSpan(raw.Offset, raw.Count), page) != size) throw new InvalidDataException("a Snappy page shorter than its header says");
        }
        else
        {
            using var gzip = new GZipStream(new MemoryStream(_chunk, raw.Offset, raw.Count, writable: false), CompressionMode.Decompress);
            gzip.ReadExactly(page);
        }
        return page;
    }
}

/// <summary>Parquet's RLE/bit-packed hybrid encoding (levels and dictionary indices) of values up to 32 bits wide.</summary>
internal static class Hybrid
{
    /// <summary>Fills <paramref name="destination"/> from <paramref name="data"/> (runs beyond it are ignored).</summary>
    /// <exception cref="InvalidDataException">The runs end before <paramref name="destination"/> is full, or are malformed.</exception>
    public static void Decode<T>(ReadOnlySpan<byte> data, int bitWidth, Span<T> destination)
        where T : struct, System.Numerics.IBinaryInteger<T>
    {
        var (position, filled) = (0, 0);
        var mask = bitWidth == 32 ? uint.MaxValue : (1u << bitWidth) - 1;
        var valueBytes = (bitWidth + 7) / 8;
        while (filled < destination.Length)
        {
            var header = Varint(data, ref position);
            if ((header & 1) == 0)
            {
                var count = (int)Math.Min(header >> 1, (uint)(destination.Length - filled));
                if (valueBytes > data.Length - position) throw new InvalidDataException("an RLE run cut short");
                uint value = 0;
                for (var b = 0; b < valueBytes; b++) value |= (uint)data[position + b] << (8 * b);
                position += valueBytes;
                if (value > mask) throw new InvalidDataException($"an RLE value wider than {bitWidth} bits");
                if (header >> 1 == 0) throw new InvalidDataException("an empty RLE run");
                destination.Slice(filled, count).Fill(T.CreateTruncating(value));
                filled += count;
            }
            else
            {
                var groups = header >> 1;
                if (groups == 0 || groups * (ulong)bitWidth > (ulong)(data.Length - position)) throw new InvalidDataException("a bit-packed run cut short");
                var count = (int)Math.Min(groups * 8, (ulong)(destination.Length - filled));
                var end = position + (int)groups * bitWidth;
                ulong bits = 0;
                var held = 0;
                for (var i = 0; i < count; i++)
                {
                    while (held < bitWidth) { bits |= (ulong)data[position++] << held; held += 8; }
                    destination[filled + i] = T.CreateTruncating((uint)bits & mask);
                    bits >>= bitWidth;
                    held -= bitWidth;
                }
                position = end;
                filled += count;
            }
        }
    }

    private static uint Varint(ReadOnlySpan<byte> data, ref int position)
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (position >= data.Length) throw new InvalidDataException("the levels or indices end before their values");
            var b = data[position++];
            value |= (uint)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("a run header longer than 5 bytes");
    }
}
