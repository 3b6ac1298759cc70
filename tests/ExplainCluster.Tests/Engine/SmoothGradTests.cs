using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class SmoothGradTests
{
    private static SmoothGrad Smooth(IInputAttribution inner, double stdev, string type = "smoothgrad", long seed = 0, int samples = 6, int? maxRows = null) =>
        new(inner, samples, stdev, type, seed, maxRows);

    public static TheoryData<string> Wrapped => ["saliency", "grad-x-input", "integrated-gradients"];

    private static (IInputAttribution Smoothed, IAttributionMethod Plain) Method(string name) => name switch
    {
        "saliency" => (new Saliency(), new Saliency()),
        "grad-x-input" => (new GradTimesInput(), new GradTimesInput()),
        _ => (new IntegratedGradients(8, Quadrature.GaussLegendre, Baseline.Zero, null), new IntegratedGradients(8, Quadrature.GaussLegendre, Baseline.Zero, null)),
    };

    [Theory]
    [MemberData(nameof(Wrapped))]
    public void Attribute_NoNoise_EqualsTheWrappedMethod(string wrapped)
    {
        using var model = IntegratedGradientsTests.DemoModel();
        var input = IntegratedGradientsTests.DemoImages(4);
        var (inner, plain) = Method(wrapped);
        var expected = TinyModels.Attribute(plain, model, input);
        var smoothed = TinyModels.Attribute(Smooth(inner, stdev: 0), model, input);
        var squared = TinyModels.Attribute(Smooth(inner, stdev: 0, type: "smoothgrad_sq"), model, input);
        var variance = TinyModels.Attribute(Smooth(inner, stdev: 0, type: "vargrad"), model, input);
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], smoothed[i], 1e-5 * scale);
            Assert.Equal(expected[i] * expected[i], squared[i], 1e-5 * scale * scale);
            Assert.Equal(0, variance[i], 1e-5 * scale * scale);
        }
    }

    [Fact]
    public void Attribute_LinearModel_SaliencyIgnoresNoise_GradTimesInputAveragesIt()
    {
        // logits = W x + b: the gradient is W's target row whatever the noise, so smoothed saliency is |w| exactly
        // and its variance 0; grad × input is w·(x + ε), whose mean over 4000 draws is w·x within a few σ/√4000.
        using var model = TinyModels.Load("tiny_linear.pt");
        var input = tensor(new float[] { 1, 2, 3, 4 }).view(1, 4); // predicted class 1
        float[] w = [0.5f, 0.5f, -1f, 2f];
        Assert.Equal(w.Select(Math.Abs), TinyModels.Attribute(Smooth(new Saliency(), 0.5), model, input));
        Assert.All(TinyModels.Attribute(Smooth(new Saliency(), 0.5, "vargrad"), model, input), v => Assert.Equal(0, v, 6));
        var averaged = TinyModels.Attribute(Smooth(new GradTimesInput(), 0.5, samples: 4000), model, input);
        var sigma = 0.5 * (4 - 1); // stdev × (max − min)
        for (var j = 0; j < 4; j++)
            Assert.Equal(w[j] * (j + 1), averaged[j], 4 * Math.Abs(w[j]) * sigma / Math.Sqrt(4000));
    }

    [Fact]
    public void Attribute_SeededPerSample_SameSeedSameMaps_AnyBatching()
    {
        using var model = IntegratedGradientsTests.DemoModel();
        var input = IntegratedGradientsTests.DemoImages(3);
        var method = Smooth(new Saliency(), 0.15, maxRows: 5);
        var batch = TinyModels.Run(method, model, input, firstIndex: 100).Maps;
        Assert.Equal(batch, TinyModels.Run(method, model, input, firstIndex: 100).Maps);
        // Sample 101 alone, in a batch of its own, draws the same noise as in the batch of three.
        var alone = TinyModels.Run(method, model, input.narrow(0, 1, 1), firstIndex: 101).Maps;
        // (Equal up to float rounding: a convolution over 3 rows sums in another order than over 1.)
        var inBatch = batch.Skip(784).Take(784).ToArray();
        for (var i = 0; i < 784; i++) Assert.Equal(inBatch[i], alone[i], 1e-5 * Math.Max(1, Math.Abs(inBatch[i])));
        // Another seed, or another dataset index, draws other noise.
        var reseeded = TinyModels.Run(Smooth(new Saliency(), 0.15, seed: 1, maxRows: 5), model, input, firstIndex: 100).Maps;
        Assert.True(batch.Zip(reseeded, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "another seed drew the same noise");
        var other = TinyModels.Run(method, model, input.narrow(0, 1, 1), firstIndex: 102).Maps;
        Assert.True(alone.Zip(other, (a, b) => Math.Abs(a - b)).Max() > 1e-3, "another dataset index drew the same noise");
    }
}
