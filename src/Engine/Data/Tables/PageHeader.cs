namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// The fields of a Parquet page header (parquet.thrift's <c>PageHeader</c>) that <see cref="ColumnChunkReader"/> uses, read
/// from Thrift's compact protocol without allocating: a data page's (v1 or v2) or a dictionary page's value count and encoding,
/// and the sizes. Fields it does not use (statistics, CRC, index pages) are skipped.
/// </summary>
internal struct PageHeader
{
    public const int DataPage = 0, DictionaryPage = 2, DataPageV2 = 3;

    public int Type;
    public int UncompressedSize;
    public int CompressedSize;
    public int Values;
    public int Encoding;
    /// <summary>v1: how the definition levels are encoded (RLE, or the deprecated BIT_PACKED).</summary>
    public int DefinitionEncoding;
    /// <summary>v2: the levels' lengths in bytes (stored uncompressed before the values) and whether the values are compressed.</summary>
    public int DefinitionBytes, RepetitionBytes;
    public bool Compressed;

    /// <summary>The header at the start of <paramref name="data"/>; <paramref name="length"/>: its length in bytes.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a page header.</exception>
    public static PageHeader Read(ReadOnlySpan<byte> data, out int length)
    {
        var r = new CompactReader(data);
        var header = new PageHeader { Type = -1, Compressed = true };
        short id = 0;
        while (r.NextField(ref id, out var type))
        {
            switch (id)
            {
                case 1: header.Type = r.I32(type); break;
                case 2: header.UncompressedSize = r.I32(type); break;
                case 3: header.CompressedSize = r.I32(type); break;
                case 5 or 7 or 8 when type == CompactReader.StructType: header.Page(ref r, id); break;
                default: r.Skip(type); break;
            }
        }
        if (header.Type < 0 || header.UncompressedSize < 0 || header.CompressedSize < 0 || header.Values < 0)
            throw new InvalidDataException("a page header without its type or with a negative size");
        length = r.Position;
        return header;
    }

    /// <summary>The nested header of a data page (<paramref name="kind"/> 5), a dictionary page (7) or a data page v2 (8).</summary>
    private void Page(ref CompactReader r, short kind)
    {
        r.Enter();
        short id = 0;
        while (r.NextField(ref id, out var type))
        {
            switch ((kind, id))
            {
                case (_, 1): Values = r.I32(type); break;
                case (5 or 7, 2) or (8, 4): Encoding = r.I32(type); break;
                case (5, 3): DefinitionEncoding = r.I32(type); break;
                case (8, 5): DefinitionBytes = r.I32(type); break;
                case (8, 6): RepetitionBytes = r.I32(type); break;
                case (8, 7): Compressed = r.Bool(type); break;
                default: r.Skip(type); break;
            }
        }
        r.Leave();
    }
}

/// <summary>
/// Thrift's compact protocol, as far as a page header needs it: structs of integer and boolean fields, everything else skipped
/// (strings, lists, maps, nested structs up to a depth of 16), with no allocation. Reading past the end or a malformed field is an <see cref="InvalidDataException"/>.
/// </summary>
internal ref struct CompactReader(ReadOnlySpan<byte> data)
{
    public const int StructType = 12;
    private const int Stop = 0, True = 1, False = 2, Byte = 3, I16 = 4, I32Type = 5, I64 = 6, Double = 7, Binary = 8, List = 9, Set = 10,
        Map = 11;

    private readonly ReadOnlySpan<byte> _data = data;
    private int _depth;

    public int Position { get; private set; }

    /// <summary>
    /// The next field of the struct being read: false at its stop byte. <paramref name="id"/> is the field id before it (0 at the
    /// struct's start), as the compact protocol gives ids as deltas.
    /// </summary>
    public bool NextField(ref short id, out int type)
    {
        var header = Next();
        type = header & 0x0F;
        if (type == Stop) return false;
        var delta = header >> 4;
        id = delta != 0 ? (short)(id + delta) : checked((short)ZigZag(Varint()));
        return true;
    }

    /// <summary>Before a nested struct's fields (a bound on the nesting, so that a corrupt header cannot recurse without end).</summary>
    public void Enter()
    {
        if (++_depth > 16) throw new InvalidDataException("structs nested too deep");
    }

    public void Leave() => _depth--;

    public int I32(int type) =>
        type is I32Type or I16 or Byte ? (type == Byte ? (sbyte)Next() : checked((int)ZigZag(Varint()))) : throw Unexpected(type);

    public bool Bool(int type) => type is True or False ? type == True : throw Unexpected(type);

    public void Skip(int type)
    {
        switch (type)
        {
            case True or False: break;
            case Byte: Next(); break;
            case I16 or I32Type or I64: Varint(); break;
            case Double: Advance(8); break;
            case Binary: Advance(checked((int)Varint())); break;
            case List or Set:
                {
                    var header = Next();
                    var size = header >> 4 == 15 ? checked((int)Varint()) : header >> 4;
                    for (var i = 0; i < size; i++) SkipElement(header & 0x0F);
                    break;
                }
            case Map:
                {
                    var size = checked((int)Varint());
                    if (size == 0) break;
                    var types = Next();
                    for (var i = 0; i < size; i++) { SkipElement(types >> 4); SkipElement(types & 0x0F); }
                    break;
                }
            case StructType:
                {
                    Enter();
                    short id = 0;
                    while (NextField(ref id, out var field)) Skip(field);
                    Leave();
                    break;
                }
            default: throw Unexpected(type);
        }
    }

    /// <summary>A list's or map's element: booleans there take a byte each.</summary>
    private void SkipElement(int type)
    {
        if (type is True or False) Next();
        else Skip(type);
    }

    private byte Next()
    {
        if (Position >= _data.Length) throw new InvalidDataException("a page header cut short");
        return _data[Position++];
    }

    private void Advance(int count)
    {
        if (count < 0 || count > _data.Length - Position) throw new InvalidDataException("a page header cut short");
        Position += count;
    }

    private ulong Varint()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = Next();
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new InvalidDataException("a varint longer than 10 bytes");
    }

    private static long ZigZag(ulong n) => (long)(n >> 1) ^ -(long)(n & 1);

    private static InvalidDataException Unexpected(int type) => new($"a field of compact type {type} where a number was expected");
}
