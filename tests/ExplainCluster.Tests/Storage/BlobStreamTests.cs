using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

public class BlobStreamTests
{
    /// <summary>
    /// Reads smaller than the buffer (served from it, refilled in place), as large as it or larger (read straight into the
    /// caller's memory), backwards seeks and reads over the end: each returns the file's own bytes.
    /// </summary>
    [Fact]
    public async Task Read_SeeksAndSizesAroundTheBuffer_ReturnsTheBlobsBytes()
    {
        var bytes = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 31 + i / 256)).ToArray();
        var blob = new BlobLocator(null).Resolve(Path.Combine(TestPaths.NewFolder(), "data.bin"));
        await blob.WriteAsync(bytes);
        await using var stream = new BlobStream(blob, bytes.Length, bufferSize: 64);

        (long At, int Count)[] reads = [(0, 1), (1, 63), (64, 64), (100, 10), (90, 20), (5, 200), (3000, 65), (2990, 1), (9_990, 50), (0, 10_000), (4_000, 7)];
        foreach (var (at, count) in reads)
        {
            stream.Position = at;
            var into = new byte[count];
            var read = 0;
            while (read < count && await stream.ReadAsync(into.AsMemory(read)) is var n and > 0) read += n;
            var expected = bytes.AsSpan((int)at, (int)Math.Min(count, bytes.Length - at)).ToArray();
            Assert.Equal(expected, into[..read]);
            Assert.Equal(at + read, stream.Position);
        }
        stream.Position = bytes.Length;
        Assert.Equal(0, await stream.ReadAsync(new byte[8]));
    }

    /// <summary>
    /// Opening a Parquet file reads 4 bytes at its start, 8 at its end and then its footer: each of those fills what it asks for
    /// (at least 64 KiB, at most what is left: the footer read fills to the end), not the 1 MiB buffer. Reads that run on from a
    /// fill get whole buffers again.
    /// </summary>
    [Fact]
    public async Task Read_AfterASeek_FillsWhatItNeeds_AndRunningOn_FillsTheBuffer()
    {
        var bytes = Enumerable.Range(0, 3 << 20).Select(i => (byte)(i * 7 + i / 997)).ToArray();
        var blob = new MemoryBlob(bytes);
        await using var stream = new BlobStream(blob, bytes.Length);

        async Task<byte[]> ReadAsync(long at, int count)
        {
            stream.Position = at;
            var into = new byte[count];
            await stream.ReadExactlyAsync(into);
            return into;
        }
        Assert.Equal(bytes[..4], await ReadAsync(0, 4));
        Assert.Equal(bytes[^8..], await ReadAsync(bytes.Length - 8, 8));
        Assert.Equal(bytes[^40_008..^8], await ReadAsync(bytes.Length - 40_008, 40_000));
        Assert.Equal([(0L, 64 * 1024), (bytes.Length - 8L, 8), (bytes.Length - 40_008L, 40_008)], blob.Reads);

        // From the start again, in reads of 1,000 bytes: the first fill is 64 KiB, each one after it runs on and is 1 MiB.
        blob.Reads.Clear();
        for (var at = 0; at < 2 << 20; at += 1_000) Assert.Equal(bytes[at..(at + 1_000)], await ReadAsync(at, 1_000));
        Assert.Equal([(0L, 64 * 1024), (64 * 1024L, 1 << 20), ((64 * 1024L) + (1 << 20), 1 << 20)], blob.Reads);
    }

    /// <summary>
    /// What a shard writes through the pooled stream (parquet parts, partials) reads back as written, whether it grew past its
    /// first array or was sought back into and patched, as Parquet.Net's writer does.
    /// </summary>
    [Fact]
    public void PooledStream_WritesGrowsSeeksAndPatches_AsAMemoryStreamDoes()
    {
        var random = new Random(5);
        using var pooled = new PooledStream(100);
        var reference = new MemoryStream();
        foreach (var size in new[] { 3, 90, 1, 4_000, 70_000, 17, 300_000 })
        {
            var chunk = new byte[size];
            random.NextBytes(chunk);
            pooled.Write(chunk);
            reference.Write(chunk);
            if (size == 17)
            {
                // Seek back, patch 4 bytes, and come back to the end; then past the end, which leaves zeros between.
                foreach (var s in new Stream[] { pooled, reference })
                {
                    s.Position = 50;
                    s.Write([9, 8, 7, 6]);
                    s.Seek(0, SeekOrigin.End);
                    s.Position += 10;
                }
            }
            Assert.Equal(reference.Length, pooled.Length);
            Assert.Equal(reference.Position, pooled.Position);
        }
        Assert.Equal(reference.ToArray(), pooled.ToArray());
        Assert.Equal(reference.ToArray(), pooled.Written.ToArray());
        pooled.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pooled.Write([1]));
    }

    [Fact]
    public async Task ReadRange_IntoMemoryPastTheEnd_Throws()
    {
        var blob = new BlobLocator(null).Resolve(Path.Combine(TestPaths.NewFolder(), "data.bin"));
        await blob.WriteAsync(new byte[] { 1, 2, 3, 4, 5 });
        var into = new byte[3];
        await blob.ReadRangeAsync(2, into);
        Assert.Equal(new byte[] { 3, 4, 5 }, into);
        await Assert.ThrowsAsync<EndOfStreamException>(() => blob.ReadRangeAsync(3, new byte[3].AsMemory()));
    }
}
