using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>Channels-last batches (the default) against NCHW ones: other kernels, the same explanations.</summary>
public class MemoryFormatTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void PrepareInput_ImageBatch_HasChannelsLastStridesAndTheSameValues(long channels)
    {
        using var model = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt");
        using var scope = NewDisposeScope();
        var batch = arange(2 * channels * 4 * 5, dtype: ScalarType.Float32).view(2, channels, 4, 5);
        var prepared = model.PrepareInput(batch);
        Assert.Equal([channels * 20, 1, 5 * channels, channels], prepared.stride());
        Assert.Equal(batch.shape, prepared.shape);
        Assert.Equal(batch.data<float>().ToArray(), prepared.contiguous().data<float>().ToArray());
    }

    [Fact]
    public void PrepareInput_ContiguousOrNotAnImage_LeavesTheBatchAlone()
    {
        using var contiguous = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt", channelsLast: false);
        using var channelsLast = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt");
        using var scope = NewDisposeScope();
        Assert.Equal([20L, 20, 5, 1], contiguous.PrepareInput(zeros(2, 1, 4, 5)).stride());
        Assert.Equal([4L, 1], channelsLast.PrepareInput(zeros(3, 4)).stride());
    }

    [Fact]
    public async Task Explanations_ChannelsLastAndContiguous_Agree()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var job = JobFile.Parse(TestPaths.FashionJob(images, labels, Path.Combine(folder, "out")), folder);
        var dataset = await Dataset.OpenAsync(job, new BlobLocator(null));
        var data = await dataset.ReadAsync(Dataset.Plan(dataset.Count, 300)[0]);
        using var last = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt");
        using var nchw = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt", channelsLast: false);

        var a = ShardExplainer.Compute(last, job, data);
        var b = ShardExplainer.Compute(nchw, job, data);

        Assert.Equal(b.Predictions, a.Predictions);
        AssertClose(b.Logits, a.Logits);
        Assert.Equal(b.Methods.Select(m => (m.Name, string.Join("x", m.MapShape))), a.Methods.Select(m => (m.Name, string.Join("x", m.MapShape))));
        // Gradient maps of a ReLU network are not continuous in the inputs' rounding: where a pre-activation sits within
        // a rounding error of zero, the two layouts' convolutions can put it on either side, and that sample's gradient
        // jumps. Measured on this model: 61 of 235,200 saliency values (0.03 %, from a few samples), relative L2 error
        // 5e-4. So: nearly every value agrees to 1e-4 of the largest, and the maps as a whole to 1e-3.
        foreach (var (x, y) in b.Methods.Zip(a.Methods)) AssertMostlyClose(x.Name, x.Maps, y.Maps);
        // Not vacuous: the maps carry signal.
        Assert.All(a.Methods, m => Assert.True(m.Maps.Max(Math.Abs) > 1e-3f, m.Name));
    }

    [Fact]
    public void Options_UnknownMemoryFormat_NamesTheKey()
    {
        var error = Assert.Throws<ExplainException>(() => new ModelHost(new ModelHostOptions { MemoryFormat = "nhwc" }, new BlobLocator(null)));
        Assert.StartsWith("ModelHost:MemoryFormat", error.Message);
    }

    private static void AssertMostlyClose(string method, float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Max(Math.Abs);
        var apart = Enumerable.Range(0, expected.Length).Count(i => Math.Abs(expected[i] - actual[i]) > 1e-4f * scale + 1e-6f);
        Assert.True(apart <= expected.Length / 1000, $"{method}: {apart} of {expected.Length} values differ by more than 1e-4 of the largest");
        double difference = 0, norm = 0;
        for (var i = 0; i < expected.Length; i++) (difference, norm) = (difference + Math.Pow(expected[i] - actual[i], 2), norm + Math.Pow(expected[i], 2));
        Assert.True(Math.Sqrt(difference / norm) < 1e-3, $"{method}: relative L2 difference {Math.Sqrt(difference / norm):G3}");
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4f * scale + 1e-6f, $"element {i}: {expected[i]} vs {actual[i]}");
    }
}
