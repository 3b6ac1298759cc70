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
