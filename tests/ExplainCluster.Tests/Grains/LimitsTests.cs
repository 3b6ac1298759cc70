using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Each limit refuses the job at submit, in one line naming the limit, the value and the field; nothing is written.</summary>
public class LimitsTests(LimitedCluster limited) : IClassFixture<LimitedCluster>
{
    [Fact]
    public async Task Submit_TooManySamples_NamesMaxSamples()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 150);
        var status = await Jobs.RunAsync(limited.Grains, TestPaths.FashionJob(images, labels, Path.Combine(folder, "out")), folder);
        Assert.Equal(JobState.Failed, status.State);
        Assert.Equal("data.inputs: 150 samples exceed Limits:MaxSamples (100)", status.Error);
        Assert.False(Directory.Exists(Path.Combine(folder, "out")));
    }

    [Fact]
    public async Task Submit_ModelTooLarge_NamesMaxModelBytes()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 50);
        var status = await Jobs.RunAsync(limited.Grains, TestPaths.FashionJob(images, labels, Path.Combine(folder, "out")), folder);
        Assert.Equal(JobState.Failed, status.State);
        var size = new FileInfo(TestPaths.Sample("model.pt")).Length;
        Assert.Equal($"model.uri: the model is {size:N0} bytes, above Limits:MaxModelBytes (100,000)", status.Error);
    }

    [Fact]
    public async Task Submit_SampleTooLarge_NamesMaxSampleBytes()
    {
        var folder = TestPaths.NewFolder();
        await File.WriteAllBytesAsync(Path.Combine(folder, "images.npy"), NpyFormat.Encode(new byte[10 * 3 * 64 * 64], [10, 3, 64, 64]));
        var job = $$"""
            { "model": { "uri": "{{TestPaths.Fixture("wide_10.pt")}}" }, "data": { "inputs": "images.npy" },
              "methods": { "saliency": {} }, "output": "{{Path.Combine(folder, "out")}}" }
            """;
        var status = await Jobs.RunAsync(limited.Grains, job, folder);
        Assert.Equal(JobState.Failed, status.State);
        Assert.Equal("data.inputs: one sample is 49,152 bytes as the model receives it ([3, 64, 64] float32), above Limits:MaxSampleBytes (10,000)", status.Error);
    }
}
