using System.Buffers.Binary;
using System.IO.Compression;
using ExplainCluster.Engine.Storage;
using Parquet.Meta;
using Parquet.Schema;
using ParquetType = Parquet.Meta.Type;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// Decodes a Parquet column chunk of numbers or text through buffers reused from chunk to chunk: the chunk is read in one ranged
/// read, each page decompressed into one buffer, and the values written straight into the column's array (doubles, or strings).
/// Parquet.Net reads a chunk through its own streams (its Snappy path copies every page into a <see cref="MemoryStream"/> grown
/// by doubling), 2.4 MB of large objects for a chunk of 65,536 doubles; its API has no way to decode into a caller's buffers.
/// </summary>
/// <remarks>
/// Takes a flat column (no repetition, a definition level of 0 or 1) of DOUBLE, FLOAT, INT32 or INT64 whose Parquet.Net type is
/// the one <see cref="ParquetTable"/> turns into doubles, or of BYTE_ARRAY that Parquet.Net reads as text (a STRING, ENUM or UTF8
/// annotation); codecs UNCOMPRESSED, SNAPPY and GZIP; data pages v1 and v2; PLAIN values and dictionaries (a PLAIN dictionary
/// page, RLE/bit-packed indices), mixed in one chunk as pyarrow writes when a dictionary grows too large. Anything else gives
/// null and the caller reads the chunk with Parquet.Net. Text is decoded as Parquet.Net decodes it (UTF-8, an invalid sequence
/// replaced): null where a value is missing, the empty string for an empty one; a dictionary's string is made once, when a row
/// first takes it, and shared by the rows that take it. A read may ask for a window of the chunk's rows: only those are made, and
/// pages wholly before it are not decompressed. Not thread-safe: one reader for the columns of one read. Per chunk it allocates
/// the window's values (and missing flags, where a value is missing, for numbers); per page nothing but, for a gzip page, the
/// inflating stream (small objects).
/// </remarks>
internal sealed class ColumnChunkReader
{
    private byte[] _chunk = [];
    private byte[] _page = [];
    private byte[] _levels = [];
    private int[] _indices = [];
    private double[] _dictionary = [];
    /// <summary>A text dictionary: its page's bytes, each entry's place in them, and the strings made so far.</summary>
    private byte[] _textBytes = [];
    private (int Start, int Length)[] _entries = [];
    private string?[] _strings = [];

    /// <summary>
    /// The chunk of <paramref name="field"/> described by <paramref name="chunk"/>, of <paramref name="rows"/> rows: rows
    /// [<paramref name="from"/>, +<paramref name="count"/>) as numbers (doubles, and which are missing) or text; null when this
    /// reader does not decode such a chunk.
    /// </summary>
    /// <exception cref="ExplainException">The chunk is corrupt: names the file and the column.</exception>
    public async Task<DecodedColumn?> ReadAsync(IBlob blob, long length, ColumnChunk? chunk, DataField field, int rows, int from, int count,
        CancellationToken ct)
    {
        if (await LoadAsync(blob, length, chunk, field, ct) is not var (size, codec, kind)) return null;
        if (kind == Kind.Text)
        {
            var texts = new TextValues(this, new string?[count]);
            return Decode(blob, field, size, codec, rows, from, count, ref texts) ? new DecodedColumn.Texts(texts.Values) : null;
        }
        var numbers = new NumberValues(this, kind, new double[count]);
        return Decode(blob, field, size, codec, rows, from, count, ref numbers) ? new DecodedColumn.Numbers(numbers.Values, numbers.Missing) : null;
    }

    /// <summary>
    /// A numeric chunk's <paramref name="rows"/> rows into the first <paramref name="rows"/> of <paramref name="values"/> (a buffer
    /// the caller reuses): whether this reader decodes such a chunk, and which rows are missing (null when none is).
    /// </summary>
    /// <exception cref="ExplainException">The chunk is corrupt: names the file and the column.</exception>
    public async Task<(bool Read, bool[]? Missing)> ReadIntoAsync(IBlob blob, long length, ColumnChunk? chunk, DataField field, double[] values, int rows,
        CancellationToken ct)
    {
        if (await LoadAsync(blob, length, chunk, field, ct) is not var (size, codec, kind) || kind == Kind.Text) return (false, null);
        var numbers = new NumberValues(this, kind, values);
        return Decode(blob, field, size, codec, rows, 0, rows, ref numbers) ? (true, numbers.Missing) : (false, null);
    }

    /// <summary>The chunk's bytes read into the chunk buffer, with how its values are stored; null when this reader does not decode it.</summary>
    private async Task<(int Size, CompressionCodec Codec, Kind Kind)?> LoadAsync(IBlob blob, long length, ColumnChunk? chunk, DataField field, CancellationToken ct)
    {
        if (chunk?.MetaData is not { } meta || chunk.FilePath is not null || KindOf(field, meta) is not { } kind) return null;
        if (meta.Codec is not (CompressionCodec.UNCOMPRESSED or CompressionCodec.SNAPPY or CompressionCodec.GZIP)) return null;
        foreach (var e in meta.Encodings)
            if (e is not (Encoding.PLAIN or Encoding.PLAIN_DICTIONARY or Encoding.RLE_DICTIONARY or Encoding.RLE or Encoding.BIT_PACKED)) return null;
        var start = meta.DictionaryPageOffset is > 0 and var d && d < meta.DataPageOffset ? d : meta.DataPageOffset;
        if (start < 0 || meta.TotalCompressedSize < 0 || start > length - meta.TotalCompressedSize) throw Corrupt(blob, field, "the chunk lies outside the file");
        if (meta.TotalCompressedSize > Array.MaxLength) return null;
        var size = (int)meta.TotalCompressedSize;
        Grow(ref _chunk, size);
        await blob.ReadRangeAsync(start, _chunk.AsMemory(0, size), ct);
        return (size, meta.Codec, kind);
    }

    private bool Decode<T>(IBlob blob, DataField field, int size, CompressionCodec codec, int rows, int from, int count, ref T values)
        where T : struct, IValues
    {
        try
        {
            return Decode(size, codec, field.MaxDefinitionLevel, rows, from, from + count, ref values);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IndexOutOfRangeException or ArgumentException or OverflowException)
        {
            throw Corrupt(blob, field, e.Message);
        }
    }

    private static ExplainException Corrupt(IBlob blob, DataField field, string why) =>
        new($"{blob.Location}: column \"{field.Name}\" is not readable Parquet: {why}");

    /// <summary>How a value is stored and turned into a double or text, as <see cref="ParquetTable"/> does through Parquet.Net's type for the field.</summary>
    private enum Kind { Double, Float, Int64, Int32, Int16, Text }

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
            (ParquetType.BYTE_ARRAY, var t) when ParquetTable.IsText(t) => Kind.Text,
            _ => null,
        };
    }

    /// <summary>
    /// The chunk's <paramref name="size"/> bytes, page by page, rows [<paramref name="from"/>, <paramref name="end"/>) of its
    /// <paramref name="rows"/> into <paramref name="values"/>; false at a page this reader does not decode. Pages wholly before
    /// <paramref name="from"/> are passed over by their headers, and none after <paramref name="end"/> is read.
    /// </summary>
    private bool Decode<T>(int size, CompressionCodec codec, int maxDefinition, int rows, int from, int end, ref T values)
        where T : struct, IValues
    {
        var (row, dictionary, position) = (0, -1, 0);
        while (row < end)
        {
            if (position >= size) throw new InvalidDataException($"the chunk ends after {row} of {rows} values");
            var header = PageHeader.Read(_chunk.AsSpan(position, size - position), out var headerLength);
            position += headerLength;
            if (header.CompressedSize > size - position) throw new InvalidDataException("a page runs past the chunk's end");
            var raw = (Offset: position, Count: header.CompressedSize);
            position += header.CompressedSize;
            switch (header.Type)
            {
                case PageHeader.DictionaryPage:
                    if (header.Encoding is not ((int)Encoding.PLAIN or (int)Encoding.PLAIN_DICTIONARY)) return false;
                    values.Dictionary(Decompress(raw, codec, header.UncompressedSize), header.Values);
                    dictionary = header.Values;
                    break;
                case PageHeader.DataPage or PageHeader.DataPageV2:
                    if (header.Values > rows - row) throw new InvalidDataException($"pages hold more than the group's {rows} rows");
                    if (row + header.Values > from && !DataPage(header, raw, codec, maxDefinition, dictionary, row, from, end, ref values)) return false;
                    row += header.Values;
                    break;
                default: break; // an index page, or a kind the format may add: not needed for the values
            }
        }
        return true;
    }

    /// <summary>
    /// The rows of a data page that starts at <paramref name="row"/> and lie in [<paramref name="from"/>, <paramref name="end"/>)
    /// into <paramref name="values"/>; false where this reader does not decode the page.
    /// </summary>
    private bool DataPage<T>(in PageHeader header, (int Offset, int Count) raw, CompressionCodec codec, int maxDefinition, int dictionary, int row,
        int from, int end, ref T values)
        where T : struct, IValues
    {
        // The page's rows [first, last) are in the window; the values of the present ones before `first` are passed over.
        var (first, last) = (Math.Max(from - row, 0), Math.Min(end - row, header.Values));
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
        var (skip, present) = (first, last - first);
        if (maxDefinition > 0)
        {
            Grow(ref _levels, last);
            var all = _levels.AsSpan(0, last);
            Hybrid.Decode(levels, 1, all);
            skip = first - all[..first].Count((byte)0);
            flags = all[first..];
            present = flags.Length - flags.Count((byte)0);
        }
        var indices = Span<int>.Empty;
        var cursor = 0;
        if (present > 0)
        {
            switch (header.Encoding)
            {
                case (int)Encoding.PLAIN:
                    cursor = values.Start(body, skip, present);
                    break;
                case (int)Encoding.PLAIN_DICTIONARY or (int)Encoding.RLE_DICTIONARY:
                    if (dictionary < 0) throw new InvalidDataException("dictionary indices without a dictionary page");
                    if (body.Length == 0 || body[0] > 32) throw new InvalidDataException("dictionary indices of more than 32 bits");
                    Grow(ref _indices, skip + present);
                    Hybrid.Decode(body[1..], body[0], _indices.AsSpan(0, skip + present));
                    indices = _indices.AsSpan(skip, present);
                    foreach (var index in indices)
                        if ((uint)index >= (uint)dictionary) throw new InvalidDataException($"dictionary index {index} of {dictionary} values");
                    break;
                default: return false;
            }
        }
        var (k, at) = (0, row + first - from);
        for (var i = 0; i < last - first; i++)
        {
            if (!flags.IsEmpty && flags[i] == 0) values.Missing(at + i);
            else if (indices.IsEmpty) values.Plain(body, ref cursor, at + i);
            else values.Entry(indices[k++], at + i);
        }
        return true;
    }

    /// <summary>
    /// <paramref name="buffer"/>, made at least <paramref name="size"/> long: an eighth longer than asked when it grows, as the
    /// chunks of a file's columns differ by a few bytes and each larger one would otherwise take a new buffer (0.5 MB for a
    /// column of 65,536 doubles).
    /// </summary>
    private static void Grow<T>(ref T[] buffer, int size)
    {
        if (buffer.Length < size) buffer = new T[Math.Min(Array.MaxLength, size + (long)size / 8)];
    }

    /// <summary>
    /// A page's <paramref name="raw"/> bytes of the chunk, uncompressed: the chunk's own bytes for UNCOMPRESSED, else the page
    /// buffer, which holds one page at a time.
    /// </summary>
    private ReadOnlySpan<byte> Decompress((int Offset, int Count) raw, CompressionCodec codec, int size)
    {
        if (codec == CompressionCodec.UNCOMPRESSED) return _chunk.AsSpan(raw.Offset, raw.Count);
        if (size < 0) throw new InvalidDataException("a negative page size");
        Grow(ref _page, size);
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

    /// <summary>Where a chunk's values go, a row of the window at a time (<c>at</c>: the row's place in the window).</summary>
    private interface IValues
    {
        /// <summary>Takes the dictionary page's <paramref name="count"/> PLAIN values.</summary>
        void Dictionary(ReadOnlySpan<byte> plain, int count);

        /// <summary>
        /// Where a PLAIN page's values are read from after the first <paramref name="skip"/> (a cursor for <see cref="Plain"/>);
        /// checks that <paramref name="body"/> holds <paramref name="skip"/> + <paramref name="present"/> of them where it can.
        /// </summary>
        int Start(ReadOnlySpan<byte> body, int skip, int present);

        void Plain(ReadOnlySpan<byte> body, ref int cursor, int at);

        void Entry(int index, int at);

        void Missing(int at);
    }

    /// <summary>Numbers as doubles; the dictionary in the reader's buffer, the missing flags made at the first one missing.</summary>
    private struct NumberValues(ColumnChunkReader reader, Kind kind, double[] values) : IValues
    {
        public readonly double[] Values => values;

        public bool[]? Missing { readonly get; private set; }

        private readonly int Width => kind is Kind.Double or Kind.Int64 ? 8 : 4;

        public readonly void Dictionary(ReadOnlySpan<byte> plain, int count)
        {
            if (plain.Length < (long)count * Width) throw new InvalidDataException("a dictionary page shorter than its values");
            Grow(ref reader._dictionary, count);
            for (var i = 0; i < count; i++) reader._dictionary[i] = Number(plain, i);
        }

        public readonly int Start(ReadOnlySpan<byte> body, int skip, int present) =>
            body.Length < ((long)skip + present) * Width ? throw new InvalidDataException("a page shorter than its values") : skip;

        public readonly void Plain(ReadOnlySpan<byte> body, ref int cursor, int at) => values[at] = Number(body, cursor++);

        public readonly void Entry(int index, int at) => values[at] = reader._dictionary[index];

        void IValues.Missing(int at) => (Missing ??= new bool[values.Length])[at] = true;

        private readonly double Number(ReadOnlySpan<byte> data, int i) => kind switch
        {
            Kind.Double => BitConverter.Int64BitsToDouble(BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..])),
            Kind.Float => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..])),
            Kind.Int64 => BinaryPrimitives.ReadInt64LittleEndian(data[(i * 8)..]),
            Kind.Int32 => BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]),
            _ => (short)BinaryPrimitives.ReadInt32LittleEndian(data[(i * 4)..]),
        };
    }

    /// <summary>
    /// Text: a PLAIN value is a 4-byte little-endian length and that many bytes of UTF-8. A dictionary's page is kept in the
    /// reader's buffer and each entry made a string when a row first takes it.
    /// </summary>
    private readonly struct TextValues(ColumnChunkReader reader, string?[] values) : IValues
    {
        public string?[] Values => values;

        public void Dictionary(ReadOnlySpan<byte> plain, int count)
        {
            Grow(ref reader._textBytes, plain.Length);
            plain.CopyTo(reader._textBytes);
            if (reader._entries.Length < count) (reader._entries, reader._strings) = (new (int, int)[count], new string?[count]);
            else Array.Clear(reader._strings, 0, count);
            var position = 0;
            for (var i = 0; i < count; i++) reader._entries[i] = Next(plain, ref position);
        }

        public int Start(ReadOnlySpan<byte> body, int skip, int present)
        {
            var position = 0;
            for (var i = 0; i < skip; i++) Next(body, ref position);
            return position;
        }

        public void Plain(ReadOnlySpan<byte> body, ref int cursor, int at)
        {
            var (start, length) = Next(body, ref cursor);
            values[at] = System.Text.Encoding.UTF8.GetString(body.Slice(start, length));
        }

        public void Entry(int index, int at)
        {
            ref var text = ref reader._strings[index];
            if (text is null)
            {
                var (start, length) = reader._entries[index];
                text = System.Text.Encoding.UTF8.GetString(reader._textBytes, start, length);
            }
            values[at] = text;
        }

        public void Missing(int at) => values[at] = null;

        /// <summary>The place of the value at <paramref name="position"/> in <paramref name="data"/>, and the position after it.</summary>
        private static (int Start, int Length) Next(ReadOnlySpan<byte> data, ref int position)
        {
            if (data.Length - position < 4) throw new InvalidDataException("a page shorter than its values");
            var length = BinaryPrimitives.ReadInt32LittleEndian(data[position..]);
            if (length < 0 || length > data.Length - position - 4) throw new InvalidDataException("a text value longer than its page");
            position += 4 + length;
            return (position - length, length);
        }
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
