using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;

/// <summary>The bundled Fashion-MNIST test set as the benchmarks take it: the first images, raw 0..255, with their labels.</summary>
internal static class DemoImages
{
    public static async Task<ShardData> LoadAsync(string sample, int count)
    {
        var images = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")));
        var labels = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")));
        return new ShardData(0, count, await images.ReadFloatsAsync(0, count), await labels.ReadIntegersAsync(0, count), [1, 28, 28]);
    }
}
