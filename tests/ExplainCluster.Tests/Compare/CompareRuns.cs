using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Compare;

/// <summary>Fashion-MNIST images in a fresh folder, and completed runs of a model on them: the two sides of a comparison.</summary>
public static class CompareRuns
{
    public static async Task<(string Folder, string Images, string Labels)> DataAsync(int samples)
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, samples);
        return (folder, images, labels);
    }

    /// <summary>Runs <paramref name="model"/> on the images into FOLDER/<paramref name="name"/> and returns that output.</summary>
    public static async Task<string> RunAsync(IGrainFactory grains, (string Folder, string Images, string Labels) data, string name, string model, int shardSize,
        string extra = "", string? methods = null)
    {
        var output = Path.Combine(data.Folder, name);
        var status = await Jobs.RunAsync(grains, TestPaths.FashionJob(data.Images, data.Labels, output, shardSize, extra, model, methods: methods), data.Folder);
        Assert.Equal(JobState.Completed, status.State);
        return output;
    }
}
