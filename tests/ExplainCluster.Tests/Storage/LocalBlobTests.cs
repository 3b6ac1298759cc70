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
        Assert.Null(await blob.StatAsync());
        var bytes = Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray();
        await blob.WriteAsync(bytes);
        Assert.Equal(5000, await blob.LengthAsync());
        Assert.Equal((5000L, await blob.VersionAsync()), await blob.StatAsync());
        Assert.Equal(bytes.AsSpan(1234, 100).ToArray(), await blob.ReadRangeAsync(1234, 100));
        await Assert.ThrowsAsync<EndOfStreamException>(() => blob.ReadRangeAsync(4990, 20));
    }

    [Fact]
    public async Task DeleteTree_NestedFolders_DeletesEverythingUnderItAndNothingBeside()
    {
        var root = TestPaths.NewFolder();
        var locator = new BlobLocator(null);
        var tree = locator.Resolve(Path.Combine(root, "_attempts"));
        // A job's staging: a folder per attempt, and the post pass's folders one level deeper; more files than deleted at once.
        for (var i = 0; i < 3 * LocalBlob.Deleting; i++)
        {
            await tree.Child($"shard-{i:D5}-a1/partial.bin").WriteAsync(new byte[20_000]);
            if (i % 5 == 0) await tree.Child($"post/shard-{i:D5}-a2/columns.parquet").WriteAsync(new byte[100]);
        }
        await tree.Child("post/empty").WriteAsync(Array.Empty<byte>());
        Directory.CreateDirectory(Path.Combine(root, "_attempts", "post", "no-files", "deeper"));
        var beside = locator.Resolve(Path.Combine(root, "_attempts.keep"));
        await beside.WriteAsync(new byte[] { 1 });

        await tree.DeleteTreeAsync();

        Assert.False(Directory.Exists(tree.Location), "the folder is still there");
        Assert.Equal([beside.Location], Directory.GetFileSystemEntries(root));
        await tree.DeleteTreeAsync(); // repeatable: nothing left to delete
        await beside.DeleteTreeAsync(); // a file deletes as a file
        Assert.Empty(Directory.GetFileSystemEntries(root));
    }

    [Fact]
    public void Absolute_RelativePath_IsRelativeToTheJobFolder()
    {
        Assert.Equal("/jobs/x/data/images.npy", BlobLocator.Absolute("data/images.npy", "/jobs/x"));
        Assert.Equal("az://c/images.npy", BlobLocator.Absolute("az://c/images.npy", "/jobs/x"));
    }
}
