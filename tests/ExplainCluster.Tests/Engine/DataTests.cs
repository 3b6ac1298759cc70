using System.IO.Compression;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Engine;

public class DataTests
{
    [Fact]
    public async Task Idx_GzippedAndRaw_ReadTheSameRange()
    {
        var raw = TestPaths.Sample("t10k-images-idx3-ubyte");
        var gz = Path.Combine(TestPaths.NewFolder(), "images.gz");
        await using (var source = File.OpenRead(raw))
        await using (var target = new GZipStream(File.Create(gz), CompressionLevel.Fastest))
            await source.CopyToAsync(target);
        var a = await ArrayFile.OpenAsync(new LocalBlob(raw));
        var b = await ArrayFile.OpenAsync(new LocalBlob(gz));
        Assert.Equal(new long[] { 10000, 28, 28 }, a.Header.Shape);
        Assert.Equal(a.Header.Shape, b.Header.Shape);
        Assert.True(b.Header.Gzipped);
        Assert.Equal(await a.ReadBytesAsync(7777, 5), await b.ReadBytesAsync(7777, 5));
        Assert.Equal(File.ReadAllBytes(raw).AsSpan(16 + 7777 * 784, 784).ToArray(), await a.ReadBytesAsync(7777, 1));
    }

    [Fact]
    public async Task Npy_EncodedFloats_RoundTripThroughRangedRead()
    {
        var path = Path.Combine(TestPaths.NewFolder(), "x.npy");
        var values = Enumerable.Range(0, 60).Select(i => i * 0.5f - 3).ToArray();
        await File.WriteAllBytesAsync(path, NpyFormat.Encode(values, [5, 3, 4]));
        var file = await ArrayFile.OpenAsync(new LocalBlob(path));
        Assert.Equal(ElementType.Float32, file.Header.Type);
        Assert.Equal(0, file.Header.DataOffset % 64);
        Assert.Equal(values.AsSpan(24, 24).ToArray(), await file.ReadFloatsAsync(2, 2));
    }

    [Fact]
    public async Task Npy_TruncatedFile_SaysTruncated()
    {
        var path = Path.Combine(TestPaths.NewFolder(), "x.npy");
        var bytes = NpyFormat.Encode(new float[40], [10, 4]);
        await File.WriteAllBytesAsync(path, bytes[..^8]);
        var error = await Assert.ThrowsAsync<ExplainException>(() => ArrayFile.OpenAsync(new LocalBlob(path)));
        Assert.Contains("is truncated", error.Message);
    }
}
