namespace ExplainCluster.Engine.Data;

public enum ElementType
{
    UInt8,
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    /// <summary>IEEE half precision: maps stored with <c>"maps": {"dtype": "float16"}</c>, read back as float32.</summary>
    Float16,
}

/// <summary>What a data file holds: element type, shape [N, ...], and where the elements start.</summary>
public sealed record ArrayHeader(ElementType Type, long[] Shape, long DataOffset, bool Gzipped)
{
    public long Count => Shape[0];

    public long[] ItemShape => Shape[1..];

    public long ItemElements => ItemShape.Aggregate(1L, (a, b) => a * b);

    public int ElementSize => Type switch
    {
        ElementType.UInt8 or ElementType.Int8 => 1,
        ElementType.Int16 or ElementType.Float16 => 2,
        ElementType.Int32 or ElementType.Float32 => 4,
        _ => 8,
    };

    public long ItemBytes => ItemElements * ElementSize;

    /// <summary>The header and every element, in bytes; null when that overflows 64 bits (an absurd shape).</summary>
    public long? TotalBytes
    {
        get
        {
            try { return checked(DataOffset + Shape.Aggregate((long)ElementSize, (a, b) => a * b)); }
            catch (OverflowException) { return null; }
        }
    }

    /// <summary>The shape as the messages print it: [10, 28, 28].</summary>
    public string ShapeText => $"[{string.Join(", ", Shape)}]";
}
