namespace ExplainCluster.Engine.Data;

/// <summary>The IDX format of the MNIST family: magic 0x0000TTDD, big-endian dimensions, then the elements.</summary>
public static class IdxFormat
{
    public static bool HasMagic(ReadOnlySpan<byte> start) => start.Length >= 4 && start[0] == 0 && start[1] == 0 && start[3] is > 0 and < 8;

    public static ArrayHeader ParseHeader(ReadOnlySpan<byte> start, string location, bool gzipped)
    {
        if (!HasMagic(start)) throw new ExplainException($"{location} is neither .npy nor IDX");
        var type = start[2] switch
        {
            0x08 => ElementType.UInt8,
            0x09 => ElementType.Int8,
            var t => throw new ExplainException($"{location}: IDX element type 0x{t:X2} is not supported (uint8 or int8; use .npy for float32)"),
        };
        int dims = start[3];
        if (start.Length < 4 + 4 * dims) throw new ExplainException($"{location}: truncated IDX header");
        var shape = new long[dims];
        for (var i = 0; i < dims; i++)
            shape[i] = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(start[(4 + 4 * i)..]);
        return new ArrayHeader(type, shape, 4 + 4 * dims, gzipped);
    }
}
