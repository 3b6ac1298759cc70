using System.IO.Compression;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data;

/// <summary>
/// A [N, ...] array in a .npy or IDX file (raw or gzipped), read by sample ranges. Raw files are read
/// with ranged reads; gzipped files are streamed and skipped, never held whole.
/// </summary>
public sealed class ArrayFile
{
    private ArrayFile(IBlob blob, ArrayHeader header)
    {
        Blob = blob;
        Header = header;
    }

    public IBlob Blob { get; }

    public ArrayHeader Header { get; }

    /// <param name="allowEmpty">Accept an array of no samples (an output's index of a subset that chose none in a shard); a dataset must have some.</param>
    public static async Task<ArrayFile> OpenAsync(IBlob blob, CancellationToken ct = default, bool allowEmpty = false)
    {
        long length;
        try
        {
            if (!await blob.ExistsAsync(ct)) throw new ExplainException($"{blob.Location} does not exist");
            length = await blob.LengthAsync(ct);
        }
        catch (Exception e) when (e is not ExplainException)
        {
            throw new ExplainException($"{blob.Location} cannot be read: {e.Message.Split('\n')[0]}", e);
        }
        if (length == 0) throw new ExplainException($"{blob.Location} is empty");
        var start = await blob.ReadRangeAsync(0, (int)Math.Min(length, 4096), ct);
        ArrayHeader header;
        if (start.Length >= 2 && start[0] == 0x1f && start[1] == 0x8b)
        {
            await using var stream = await blob.OpenReadAsync(ct);
            await using var gz = new GZipStream(stream, CompressionMode.Decompress);
            var head = new byte[4096];
            int n;
            try { n = await gz.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct); }
            catch (InvalidDataException e) { throw Corrupt(blob.Location, e); }
            header = NpyFormat.HasMagic(head)
                ? NpyFormat.ParseHeader(head[..n], blob.Location) with { Gzipped = true }
                : IdxFormat.ParseHeader(head.AsSpan(0, n), blob.Location, gzipped: true);
        }
        else
        {
            header = NpyFormat.HasMagic(start)
                ? NpyFormat.ParseHeader(start, blob.Location)
                : IdxFormat.ParseHeader(start, blob.Location, gzipped: false);
        }
        Check(header, blob.Location, length, allowEmpty);
        return new ArrayFile(blob, header);
    }

    /// <summary>A 1-D integer array in full (an output's index file), empty when it holds none.</summary>
    public static async Task<long[]> ReadIndicesAsync(IBlob blob, CancellationToken ct = default)
    {
        var file = await OpenAsync(blob, ct, allowEmpty: true);
        return file.Header.Count == 0 ? [] : await file.ReadIntegersAsync(0, checked((int)file.Header.Count), ct);
    }

    /// <summary>
    /// What a header promises, checked against itself and the file: a size that fits 64 bits, samples of at
    /// least one element, at least one sample, and (uncompressed) a file that holds every byte.
    /// </summary>
    private static void Check(ArrayHeader header, string location, long length, bool allowEmpty)
    {
        if (header.TotalBytes is not { } total)
            throw new ExplainException($"{location}: shape {header.ShapeText} is absurd (more than 2^63 bytes); the file holds {length} bytes");
        if (!header.Gzipped && length < total)
            throw new ExplainException($"{location} is truncated: its header promises shape {header.ShapeText}, {total} bytes, but the file holds {length}");
        if (header.Gzipped && total > length * MaxGzipRatio + 1024)
            throw new ExplainException(
                $"{location} is truncated: its header promises shape {header.ShapeText}, {total} bytes, more than a gzip stream of {length} bytes can hold");
        if (header.Count == 0 && !allowEmpty) throw new ExplainException($"{location} holds no samples (empty dataset)");
        if (header.ItemShape.Contains(0))
            throw new ExplainException($"{location}: shape {header.ShapeText} has a zero dimension: its samples hold no elements");
        if (header.ItemBytes > MaxReadBytes)
            throw new ExplainException($"{location}: shape {header.ShapeText} has samples of {header.ItemBytes} bytes, more than {MaxReadBytes} (2 GB)");
    }

    /// <summary>Deflate's limit: no gzip stream decompresses to more than about 1032 times its size.</summary>
    private const long MaxGzipRatio = 1032;

    /// <summary>The most bytes one read returns: a .NET array.</summary>
    private const long MaxReadBytes = int.MaxValue;

    private static ExplainException Corrupt(string location, Exception e) =>
        new($"{location}: the gzip stream is corrupt ({e.Message.Split('\n')[0]})", e);

    /// <summary>The raw bytes of samples [start, start + count).</summary>
    public async Task<byte[]> ReadBytesAsync(long start, int count, CancellationToken ct = default)
    {
        if (start < 0 || start + count > Header.Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"samples {start}..{start + count} outside 0..{Header.Count}");
        var offset = Header.DataOffset + start * Header.ItemBytes;
        if (count * Header.ItemBytes > MaxReadBytes)
            throw new ExplainException(
                $"{Blob.Location}: {count} samples of {Header.ItemBytes} bytes are more than one read holds (2 GB); lower shardSize");
        var length = (int)(count * Header.ItemBytes);
        if (!Header.Gzipped) return await Blob.ReadRangeAsync(offset, length, ct);

        await using var stream = await Blob.OpenReadAsync(ct);
        await using var gz = new GZipStream(stream, CompressionMode.Decompress);
        try
        {
            var skip = new byte[1 << 16];
            for (var left = offset; left > 0;)
            {
                var n = await gz.ReadAsync(skip.AsMemory(0, (int)Math.Min(left, skip.Length)), ct);
                if (n == 0) throw new EndOfStreamException();
                left -= n;
            }
            var buffer = new byte[length];
            await gz.ReadExactlyAsync(buffer, ct);
            // The last samples: the stream must end where its header says.
            if (start + count == Header.Count && await gz.ReadAsync(new byte[1], ct) > 0)
                throw new ExplainException($"{Blob.Location}: the gzip stream holds more than the {Header.TotalBytes} bytes its header promises");
            return buffer;
        }
        catch (EndOfStreamException)
        {
            throw new ExplainException($"{Blob.Location}: the gzip stream ends before the {Header.TotalBytes} bytes its header promises");
        }
        catch (InvalidDataException e)
        {
            throw Corrupt(Blob.Location, e);
        }
    }

    /// <summary>Samples [start, start + count) as float32, element values unchanged (uint8 0..255 stays 0..255).</summary>
    public async Task<float[]> ReadFloatsAsync(long start, int count, CancellationToken ct = default)
    {
        var bytes = await ReadBytesAsync(start, count, ct);
        return Header.Type switch
        {
            ElementType.UInt8 => Array.ConvertAll(bytes, b => (float)b),
            ElementType.Int8 => Array.ConvertAll(bytes, b => (float)(sbyte)b),
            ElementType.Float32 => Floats(bytes),
            ElementType.Float16 => Halves(bytes),
            _ => throw new ExplainException($"{Blob.Location}: inputs must be uint8 or float32, not {Header.Type}"),
        };
    }

    /// <summary>Samples [start, start + count) as integers, every element in order (labels: one per sample).</summary>
    public async Task<long[]> ReadIntegersAsync(long start, int count, CancellationToken ct = default)
    {
        var width = Header.Type switch
        {
            ElementType.UInt8 or ElementType.Int8 => 1,
            ElementType.Int16 => 2,
            ElementType.Int32 => 4,
            ElementType.Int64 => 8,
            _ => throw new ExplainException($"{Blob.Location}: labels must be integers, not {Header.Type}"),
        };
        var bytes = await ReadBytesAsync(start, count, ct);
        var values = new long[bytes.Length / width];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Header.Type switch
            {
                ElementType.UInt8 => bytes[i],
                ElementType.Int8 => (sbyte)bytes[i],
                ElementType.Int16 => BitConverter.ToInt16(bytes, i * 2),
                ElementType.Int32 => BitConverter.ToInt32(bytes, i * 4),
                _ => BitConverter.ToInt64(bytes, i * 8),
            };
        }
        return values;
    }

    /// <summary>float16 elements widened to float32 (exactly: every half is a float).</summary>
    private static float[] Halves(byte[] bytes)
    {
        var halves = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(bytes);
        var values = new float[halves.Length];
        for (var i = 0; i < values.Length; i++) values[i] = (float)halves[i];
        return values;
    }

    private static float[] Floats(byte[] bytes)
    {
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
