using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

public class LocalBlobTests
{
    [Fact]
    public async Task Blob_WriteThenRangedRead_ReturnsExactBytes()
    {
        var blob = new BlobLocator(null).Resolve(Path.Combine(TestPaths.NewFolder(), "a", "b", "data.bin"));
        Assert.False(await blob.ExistsAsync());
        var bytes = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        await blob.WriteAsync(bytes);
        Assert.Equal(5000, await blob.LengthAsync());
        Assert.Equal(bytes.AsSpan(1234, 100).ToArray(), await blob.ReadRangeAsync(1234, 100));
        await Assert.ThrowsAsync<EndOfStreamException>(() => blob.ReadRangeAsync(4990, 20));
    }

    [Fact]
    public void Absolute_RelativePath_IsRelativeToTheJobFolder()
    {
        Assert.Equal("/jobs/x/data/images.npy", BlobLocator.Absolute("data/images.npy", "/jobs/x"));
        Assert.Equal("az://c/images.npy", BlobLocator.Absolute("az://c/images.npy", "/jobs/x"));
    }
}
