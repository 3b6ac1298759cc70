using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Output;

/// <summary>
/// A file written whole into memory and then to its blob, in one buffer of about its size rented from the shared pool
/// (<see cref="PooledStream"/>). A <see cref="MemoryStream"/> left to grow doubles from 256 bytes (each step a new array, the
/// last ones on the large object heap) and <c>ToArray</c> copies the result once more: about three times the file in
/// garbage, for every part of every shard (docs/benchmarks.md).
/// </summary>
public static class ParquetBuffer
{
    /// <summary>The largest buffer sized up front; a file larger still grows from there.</summary>
    private const long MaxHint = 256L << 20;

    /// <summary>Runs <paramref name="write"/> into a buffer of <paramref name="sizeHint"/> bytes and writes what it wrote to <paramref name="target"/>.</summary>
    public static async Task WriteAsync(IBlob target, long sizeHint, Func<Stream, Task> write, CancellationToken ct)
    {
        using var stream = new PooledStream((int)Math.Clamp(sizeHint + 64 * 1024, 0, MaxHint));
        await write(stream);
        await target.WriteAsync(stream.Written, ct);
    }
}
