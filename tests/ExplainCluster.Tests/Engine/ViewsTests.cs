using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Views;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>The weights and activations views on the tiny fixtures, against numbers computed here from their known weights.</summary>
public class ViewsTests
{
    [Fact]
    public void Weights_TinyLinear_EqualHandComputedStatistics()
    {
        using var model = TinyModels.Load("tiny_linear.pt");
        var weights = WeightStatistics.Compute(model);
        Assert.Equal(["0.weight", "0.bias"], weights.Parameters.Select(p => p.Name));
        var w = TinyModels.LinearW.Cast<float>().Select(v => (double)v).ToArray();
        var stats = weights.Parameters[0];
        Assert.Equal(new long[] { 3, 4 }, stats.Shape);
        Assert.Equal(Math.Sqrt(w.Sum(v => v * v)), stats.Norm, 1e-12);
        var mean = w.Average();
        Assert.Equal(mean, stats.Mean, 1e-12);
        Assert.Equal(Math.Sqrt(w.Sum(v => (v - mean) * (v - mean)) / 12), stats.Std, 1e-12);
        Assert.Equal(1.0 / 12, stats.NearZero, 1e-12); // W[2, 2] = 0 is the only |w| < 1e-3 · 4
        Assert.Equal((-4.0, 3.0), (stats.Min, stats.Max));
        // 32 bins of 7/32 from −4: −4 → 0, −3 → 4, −2 → 9, −1 → 13, 0 → 18, 0.5 → 20, 1 → 22 (×3), 2 → 27, 3 → 31.
        var expected = new long[ParameterStatistics.Bins];
        foreach (var v in w) expected[Math.Min(31, (int)((v + 4) / 7 * 32))]++;
        Assert.Equal(expected, stats.Histogram);
        Assert.Equal([0, 4, 9, 13, 18, 20, 22, 27, 31], expected.Select((c, b) => (c, b)).Where(p => p.c > 0).Select(p => p.b));
        Assert.Null(weights.FirstConv); // no convolution in this model
    }

    [Fact]
    public void Weights_TinyCnn_FirstConvFiltersAreItsWeights()
    {
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var weights = WeightStatistics.Compute(model);
        Assert.Equal("0", weights.FirstConv);
        Assert.Equal([2, 1, 1, 1], weights.FirstConvShape);
        Assert.Equal([1f, -1f], weights.FirstConvFilters);
    }

    [Fact]
    public void Activations_TinyCnn_EqualTheReluOfTheKnownConv_AndThePcaKeepsTheClassMeansDistances()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        float[][] inputs =
        [
            [-0.9f, 0.2f, 0.7f, -0.3f, 0.6f, 0.1f, -0.5f, 0.9f, 0.3f],
            [0.4f, -0.8f, 0.05f, 0.95f, -0.2f, 0.55f, 0.35f, -0.6f, 0.8f],
            [1, 1, 1, 1, 1, 1, 1, 1, 1],
            [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f],
        ];
        long[] targets = [0, 1, 1, 0];
        var recorder = new ActivationRecorder(["1"], new ActivationCapture(["1"], "views.activations.layers"));
        var input = tensor(inputs.SelectMany(v => v).ToArray()).view(4, 1, 3, 3);
        GradientBatch.Compute(model, input, tensor(targets), null, needGradients: true, recorder.Capture);
        recorder.Add(tensor(targets), 2);
        var layer = Assert.Single(recorder.Partial().Layers);

        // Channel 0 = ReLU(x), channel 1 = ReLU(0.5 − x), per pixel.
        double Mean(float[] x, int c) => x.Average(v => Math.Max(0.0, c == 0 ? v : 0.5 - (double)v));
        Assert.Equal(2, layer.Channels);
        Assert.Equal([2L, 2], layer.ClassCounts);
        double[] sums = [Mean(inputs[0], 0) + Mean(inputs[3], 0), Mean(inputs[0], 1) + Mean(inputs[3], 1),
            Mean(inputs[1], 0) + Mean(inputs[2], 0), Mean(inputs[1], 1) + Mean(inputs[2], 1)];
        for (var i = 0; i < sums.Length; i++) Assert.Equal(sums[i], layer.ClassSums[i], 1e-6);
        // Channel 1 stays at 0 on the all-ones input only; both channels fire on the other three.
        Assert.Equal([4L, 3], layer.Fired);
        var nonPositive = inputs.Sum(x => x.Count(v => v <= 0) + x.Count(v => 0.5f - v <= 0));
        Assert.Equal((nonPositive, 72L), (layer.NonPositive, layer.Elements));

        // The summary's class means, and their distance kept by the PCA (two classes: one component says it all).
        var (summary, _) = ActivationStatistics.Fold(null, recorder.Partial()).Summary(["a", "b"]);
        var pca = summary.Layers[0].Pca;
        double[][] means = [[sums[0] / 2, sums[1] / 2], [sums[2] / 2, sums[3] / 2]];
        Assert.Equal(Distance(means[0], means[1]), Distance(pca[0].Coordinates, pca[1].Coordinates), 1e-6);
        Assert.Equal(1.0, summary.Layers[0].Explained[0], 1e-9);
    }

    [Fact]
    public void Pca_PointsInAPlane_KeepEveryDistance_AndCosineIsTheNormalisedDotProduct()
    {
        // Four points in a plane of R³: two components reproduce them up to a rotation.
        double[][] rows = [[1, 2, 3], [2, 0, 1], [0, 1, 4], [3, 3, 3]];
        var u = new[] { 1.0, 1, 0 };
        var v = new[] { 0.0, 1, -1 };
        double[][] planar = [.. rows.Select(r => u.Select((x, j) => r[0] * x + r[1] * v[j]).ToArray())];
        var (coordinates, explained) = ActivationStatistics.Pca(planar, 2);
        for (var a = 0; a < 4; a++)
            for (var b = 0; b < 4; b++) Assert.Equal(Distance(planar[a], planar[b]), Distance(coordinates[a], coordinates[b]), 1e-9);
        Assert.Equal(1.0, explained.Sum(), 1e-9);
        Assert.True(explained[0] >= explained[1]);
        Assert.Equal(rows[0].Zip(rows[2]).Sum(p => p.First * p.Second) / (Norm(rows[0]) * Norm(rows[2])), ActivationStatistics.Cosine(rows)[2], 1e-12);
    }

    private static double Distance(double[] a, double[] b) => Math.Sqrt(a.Zip(b).Sum(p => (p.First - p.Second) * (p.First - p.Second)));

    private static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
}

public class LabelVoteTests
{
    [Fact]
    public void Vote_PointsOnALine_CountsNeighboursWithTheSameLabel()
    {
        // Five points on a line at 0, 1, 2, 10, 11 with labels a a b b b; k = 2.
        long[] index = [0, 1, 2, 3, 4];
        long[] labels = [0, 0, 1, 1, 1];
        float[] features = [0, 1, 2, 10, 11];
        var (agreement, majority) = ExplainCluster.Engine.Views.LabelVote.Of(index, labels, features, 2);
        // 0: neighbours 1 (a), 2 (b) → ½. 1: 0 (a), 2 (b) → ½. 2: 1 (a), 0 (a) → 0, they say a. 3: 4, 2 → 1. 4: 3, 2 → 1.
        Assert.Equal([0.5, 0.5, 0, 1, 1], agreement);
        Assert.Equal([0L, 0, 0, 1, 1], majority); // a tie of one each goes to the lower label
    }
}
