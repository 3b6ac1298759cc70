using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

/// <summary>A manifest in a blob container: its relative paths are blobs beside it, read by ranges like local files.</summary>
public sealed class AzureImageManifestTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Manifest_InAContainer_ReadsTheSameSamplesAsTheLocalFolder()
    {
        var container = $"img-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        var fixtures = TestPaths.Fixture("images");
        foreach (var file in Directory.GetFiles(Path.Combine(fixtures, "small"), "*.png", SearchOption.AllDirectories))
            await locator.Resolve($"az://{container}/set/{Path.GetRelativePath(fixtures, file)}").WriteAsync(await File.ReadAllBytesAsync(file));
        await locator.Resolve($"az://{container}/set/manifest.csv").WriteAsync(await File.ReadAllBytesAsync(Path.Combine(fixtures, "manifest.csv")));

        const string Transforms = "[{\"grayscale\": {}}, {\"toTensor\": {}}]";
        JobSpec Job(string data) => JobFile.Parse($$"""
            { "model": { "uri": "m.pt" }, "data": {{data}}, "methods": { "saliency": {} }, "output": "out" }
            """, fixtures);
        var remote = await Dataset.OpenAsync(Job($$"""{ "manifest": "az://{{container}}/set/manifest.csv", "path": "path", "label": "label", "transforms": {{Transforms}} }"""), locator);
        var local = await Dataset.OpenAsync(Job($$"""{ "images": "small", "labels": "folders", "transforms": {{Transforms}} }"""), locator);
        Assert.Equal(local.SampleShape, remote.SampleShape);
        var shard = new ShardSpec(1, 4, 9);
        var (a, b) = (await local.ReadAsync(shard), await remote.ReadAsync(shard));
        Assert.Equal(a.Raw, b.Raw);
        Assert.Equal(a.Labels, b.Labels);

        // A row whose blob is missing fails in one line naming the blob.
        await locator.Resolve($"az://{container}/set/manifest.csv").WriteAsync("path\nsmall/Bag/none.png\n"u8.ToArray());
        var missing = await Assert.ThrowsAsync<ExplainCluster.Engine.ExplainException>(() =>
            Dataset.OpenAsync(Job($$"""{ "manifest": "az://{{container}}/set/manifest.csv", "path": "path" }"""), locator));
        Assert.Equal($"az://{container}/set/small/Bag/none.png: does not exist", missing.Message);
    }
}
