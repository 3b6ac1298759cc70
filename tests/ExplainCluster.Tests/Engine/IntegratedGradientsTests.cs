using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class IntegratedGradientsTests
{
    private static IntegratedGradients Ig(int steps = 50, string rule = Quadrature.GaussLegendre, Baseline? baseline = null, int? maxRows = null) =>
        new(steps, rule, baseline ?? Baseline.Zero, maxRows);

    [Theory]
    [InlineData("gausslegendre", 0.0)]
    [InlineData("riemann_left", 0.0)]
    [InlineData("riemann_right", -1.5)]
    [InlineData("riemann_middle", 2.0)]
    [InlineData("riemann_trapezoid", 0.5)]
    public void Attribute_LinearModel_IsInputMinusBaselineTimesWeightRow_WithZeroDelta(string rule, double baseline)
    {
        // logits = W x + b; the gradient is the weight row everywhere, so every rule's weights (summing to 1) give (x − x′)·w.
        using var model = TinyModels.Load("tiny_linear.pt");
        float[] x = [1, 2, 3, 4, -1, 0, 2, 5];
        var (maps, columns) = TinyModels.Run(Ig(7, rule, new Baseline("number", baseline, 0)), model, tensor(x).view(2, 4), labels: [2, 0]);
        long[] targets = [2, 0];
        for (var i = 0; i < 2; i++)
            for (var j = 0; j < 4; j++)
                Assert.Equal((x[i * 4 + j] - baseline) * TinyModels.LinearW[targets[i], j], maps[i * 4 + j], 5);
        Assert.All(columns[0], delta => Assert.Equal(0, delta, 4));
    }

    [Fact]
    public void Attribute_DemoModel_50GaussLegendreSteps_CompletenessDeltaSmall()
    {
        // Σ attribution = f(x) − f(0) up to the quadrature's error, which the ReLUs and max-pools (a piecewise
        // linear path) keep from vanishing fast. Measured on these 32 images: max |delta| 0.19 logits, mean 0.05,
        // against |f(x) − f(0)| of 0.03 to 19 (mean 9): bounds 0.25 and 1% of the mean gap.
        using var model = DemoModel();
        var input = DemoImages(32);
        var (maps, columns) = TinyModels.Run(Ig(), model, input);
        var delta = columns[0];
        var logits = model.Forward(input).detach();
        var baseline = model.Forward(zeros_like(input)).detach();
        var targets = logits.argmax(1);
        var gap = (logits.gather(1, targets.unsqueeze(1)) - baseline.gather(1, targets.unsqueeze(1))).squeeze(1).data<float>().ToArray();
        for (var i = 0; i < 32; i++)
        {
            // The delta is what the column says it is: Σ attribution − (f(x) − f(x′)), checked by a second path.
            var sum = maps.Skip(i * 784).Take(784).Sum(v => (double)v);
            Assert.Equal(sum - gap[i], delta[i], 3);
        }
        Assert.True(delta.Max(Math.Abs) < 0.25, $"max |delta| {delta.Max(Math.Abs)}");
        Assert.True(delta.Average(Math.Abs) < 0.01 * gap.Average(Math.Abs), $"mean |delta| {delta.Average(Math.Abs)}, mean gap {gap.Average(Math.Abs)}");
    }

    [Fact]
    public void Attribute_EveryQuadrature_ConvergesToTheSameMap()
    {
        using var model = DemoModel();
        var input = DemoImages(2);
        var reference = TinyModels.Run(Ig(256), model, input).Maps;
        var scale = reference.Max(Math.Abs);
        foreach (var rule in Quadrature.Rules)
        {
            var coarse = Distance(TinyModels.Run(Ig(8, rule), model, input).Maps, reference) / scale;
            var fine = Distance(TinyModels.Run(Ig(256, rule), model, input).Maps, reference) / scale;
            Assert.True(fine < 0.03, $"{rule}: 256 steps are {fine:F4} (of the largest attribution) from the reference");
            Assert.True(fine < coarse || coarse < 1e-3, $"{rule}: 256 steps ({fine:F4}) no closer than 8 ({coarse:F4})");
        }
    }

    [Fact]
    public void Attribute_RowBudget_DoesNotChangeTheMaps()
    {
        using var model = DemoModel();
        var input = DemoImages(5);
        var whole = TinyModels.Run(Ig(10), model, input);
        var chunked = TinyModels.Run(Ig(10, maxRows: 3), model, input);
        Assert.Equal(whole.Maps.Length, chunked.Maps.Length);
        for (var i = 0; i < whole.Maps.Length; i++) Assert.Equal(whole.Maps[i], chunked.Maps[i], 5);
    }

    [Fact]
    public void Quadrature_GaussLegendre_MatchesNumpyLeggauss()
    {
        // numpy.polynomial.legendre.leggauss(3): x = [−√0.6, 0, √0.6], w = [5/9, 8/9, 5/9]; mapped to [0, 1].
        var (alphas, weights) = Quadrature.Nodes(Quadrature.GaussLegendre, 3);
        double[] expected = [(1 - Math.Sqrt(0.6)) / 2, 0.5, (1 + Math.Sqrt(0.6)) / 2];
        for (var i = 0; i < 3; i++) Assert.Equal(expected[i], alphas[i], 12);
        double[] expectedWeights = [5.0 / 18, 8.0 / 18, 5.0 / 18];
        for (var i = 0; i < 3; i++) Assert.Equal(expectedWeights[i], weights[i], 12);
        // Exact for polynomials of degree ≤ 2n − 1: ∫₀¹ α⁵ dα = 1/6.
        Assert.Equal(1.0 / 6, alphas.Zip(weights, (a, w) => w * Math.Pow(a, 5)).Sum(), 12);
        // Captum's trapezoid: linspace(0, 1, n), weights 1/(n−1) halved at both ends.
        var (ta, tw) = Quadrature.Nodes("riemann_trapezoid", 3);
        Assert.Equal([0, 0.5, 1], ta);
        Assert.Equal([0.25, 0.5, 0.25], tw);
    }

    [Fact]
    public void BlurBaseline_KeepsConstantsAndTotalMassAwayFromEdges()
    {
        using var scope = NewDisposeScope();
        var blur = new Baseline("blur", 0, 1.0);
        var constant = full([1, 1, 9, 9], 0.7f);
        Assert.True(allclose(blur.For(constant), constant, 1e-6, 1e-6));
        var impulse = zeros([1, 1, 15, 15]);
        impulse[0, 0, 7, 7] = tensor(1f);
        var blurred = blur.For(impulse);
        Assert.Equal(1.0, blurred.sum().item<float>(), 5);
        // A Gaussian of σ = 1: the centre keeps (1 / Σ_{|i|≤3} e^{−i²/2})².
        var norm = Enumerable.Range(-3, 7).Sum(i => Math.Exp(-i * i / 2.0));
        Assert.Equal(1 / (norm * norm), blurred[0, 0, 7, 7].item<float>(), 5);
    }

    private static double Distance(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    internal static ExplainModel DemoModel() => ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt");

    /// <summary>The first Fashion-MNIST test images, preprocessed as the demo job does.</summary>
    internal static Tensor DemoImages(int count)
    {
        var file = ArrayFile.OpenAsync(new LocalBlob(TestPaths.Sample("t10k-images-idx3-ubyte"))).GetAwaiter().GetResult();
        var raw = file.ReadFloatsAsync(0, count).GetAwaiter().GetResult();
        return (tensor(raw).view(count, 1, 28, 28) / 255f - 0.286f) / 0.353f;
    }
}
