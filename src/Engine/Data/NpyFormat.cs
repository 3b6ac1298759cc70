using System.Text;
using System.Text.RegularExpressions;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data;

/// <summary>NumPy .npy version 1/2/3 headers: little-endian or byte dtypes, C order.</summary>
public static partial class NpyFormat
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static bool HasMagic(ReadOnlySpan<byte> start) => start.Length >= 6 && start[..6].SequenceEqual(Magic);

    public static ArrayHeader ParseHeader(byte[] start, string location)
    {
        if (!HasMagic(start)) throw new ExplainException($"{location} is not a .npy file");
        if (start.Length < 10) throw new ExplainException($"{location}: truncated .npy header");
        var major = start[6];
        if (major is < 1 or > 3) throw new ExplainException($"{location}: .npy version {major} is not supported (1, 2 or 3)");
        var headerStart = major == 1 ? 10 : 12;
        if (start.Length < headerStart) throw new ExplainException($"{location}: truncated .npy header");
        long headerLength = major == 1 ? BitConverter.ToUInt16(start, 8) : BitConverter.ToUInt32(start, 8);
        if (headerStart + headerLength > start.Length)
            throw new ExplainException($"{location}: .npy header longer than expected");
        var header = Encoding.ASCII.GetString(start, headerStart, (int)headerLength);
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new ExplainException($"{location}: unreadable .npy header");
        if (fortran.Groups[1].Value == "True")
            throw new ExplainException($"{location}: Fortran-order arrays are not supported; save with C order");
        var type = descr.Groups[1].Value switch
        {
            "|u1" or "<u1" => ElementType.UInt8,
            "|i1" or "<i1" => ElementType.Int8,
            "<i2" => ElementType.Int16,
            "<i4" => ElementType.Int32,
            "<i8" => ElementType.Int64,
            "<f4" => ElementType.Float32,
            "<f2" => ElementType.Float16,
            ['>', _, ..] and var other => throw new ExplainException(
                $"{location}: big-endian dtype '{other}' is not supported; save little-endian (array.astype('<{other[1..]}'))"),
            var other => throw new ExplainException($"{location}: dtype '{other}' is not supported (uint8, float32 or integer labels)"),
        };
        var dims = Dimensions(shape.Groups[1].Value, location);
        if (dims.Length == 0) throw new ExplainException($"{location}: a scalar array holds no samples");
        return new ArrayHeader(type, dims, headerStart + headerLength, Gzipped: false);
    }

    /// <summary>The dimensions of a shape tuple's text ("10, 28, 28"): each a non-negative 64-bit integer.</summary>
    private static long[] Dimensions(string tuple, string location)
    {
        var parts = tuple.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var dims = new long[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!long.TryParse(parts[i], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out dims[i]))
                throw new ExplainException($"{location}: .npy shape ({tuple}) has '{parts[i]}', which is not a dimension");
            if (dims[i] < 0) throw new ExplainException($"{location}: .npy shape ({tuple}) has a negative dimension");
        }
        return dims;
    }

    /// <summary>A version 1.0 header for a float32 C-order array, padded to 64 bytes as NumPy does.</summary>
    public static byte[] Header(IReadOnlyList<long> shape, string descr = "<f4")
    {
        var dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        var text = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        var total = 10 + text.Length + 1;
        var padded = (total + 63) / 64 * 64;
        text = text.PadRight(padded - 10 - 1) + "\n";
        var bytes = new byte[10 + text.Length];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        BitConverter.GetBytes((ushort)text.Length).CopyTo(bytes, 8);
        Encoding.ASCII.GetBytes(text).CopyTo(bytes, 10);
        return bytes;
    }

    public static byte[] Encode(float[] data, IReadOnlyList<long> shape) => Encode<float>(data, shape, "<f4");

    /// <summary>Half precision (numpy's float16): the stored maps of <c>"maps": {"dtype": "float16"}</c>.</summary>
    public static byte[] Encode(Half[] data, IReadOnlyList<long> shape) => Encode<Half>(data, shape, "<f2");

    public static byte[] Encode(byte[] data, IReadOnlyList<long> shape) => Encode<byte>(data, shape, "|u1");

    public static byte[] Encode(int[] data, IReadOnlyList<long> shape) => Encode<int>(data, shape, "<i4");

    public static byte[] Encode(long[] data, IReadOnlyList<long> shape) => Encode<long>(data, shape, "<i8");

    /// <summary>
    /// A .npy file of <paramref name="data"/> written to <paramref name="target"/> through a buffer rented from the shared pool:
    /// a shard's maps and logits are written once and dropped, and <see cref="Encode(float[], IReadOnlyList{long})"/> would
    /// leave an array of their size on the large object heap each time.
    /// </summary>
    public static Task WriteAsync(IBlob target, float[] data, IReadOnlyList<long> shape, CancellationToken ct) => WriteAsync<float>(target, data, shape, "<f4", ct);

    public static Task WriteAsync(IBlob target, Half[] data, IReadOnlyList<long> shape, CancellationToken ct) => WriteAsync<Half>(target, data, shape, "<f2", ct);

    public static Task WriteAsync(IBlob target, long[] data, IReadOnlyList<long> shape, CancellationToken ct) => WriteAsync<long>(target, data, shape, "<i8", ct);

    private static async Task WriteAsync<T>(IBlob target, T[] data, IReadOnlyList<long> shape, string descr, CancellationToken ct) where T : unmanaged
    {
        var header = Header(shape, descr);
        var size = checked(header.Length + data.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(size);
        try
        {
            Fill<T>(header, data, bytes);
            await target.WriteAsync(bytes.AsMemory(0, size), ct);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private static byte[] Encode<T>(ReadOnlySpan<T> data, IReadOnlyList<long> shape, string descr) where T : unmanaged
    {
        var header = Header(shape, descr);
        var bytes = new byte[header.Length + System.Runtime.InteropServices.MemoryMarshal.AsBytes(data).Length];
        Fill(header, data, bytes);
        return bytes;
    }

    /// <summary>The file's bytes, <paramref name="header"/> then <paramref name="data"/>'s, into the start of <paramref name="into"/>.</summary>
    private static void Fill<T>(byte[] header, ReadOnlySpan<T> data, Span<byte> into) where T : unmanaged
    {
        header.CopyTo(into);
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(data).CopyTo(into[header.Length..]);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']+)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
