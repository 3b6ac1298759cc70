using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Views;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// Channel pruning (<see cref="ChannelPruning"/>, <see cref="PruningSummary"/>) on tiny_pruning.pt
/// (tools/make_pruning_model.py), whose channels' importance is known by construction, against a hand computation
/// over its weights; and on the demo model, against its own forward and split (sums of two halves = sums of the whole).
/// </summary>
public class ChannelPruningTests
{
    // tiny_pruning.pt: channel c = S_c·max(0, x) → global average pool → Linear(W, B). Margin contributions e = [1, 0, 3, 0.5]·r.
    private static readonly double[] S = [0.5, 1, 1, 2];
    private static readonly double[][] W = [[-1, 0, -1.5, -0.125], [1, 0, 1.5, 0.125]];
    private static readonly double[] B = [0.5, -0.5];

    /// <summary>Least important first: channel 1 (no weight), 3 (e = 0.5), 0 (e = 1), 2 (e = 3, decisive).</summary>
    private static readonly int[] KnownOrder = [1, 3, 0, 2];

    // r = mean_p max(0, x_p) = v/3: 0.1, 0.2, 0.233, 0.267, 0.3, 0.4, 0.5, 0.7, 0.9; the model predicts 1 where r > 2/9.
    private static readonly double[] V = [0.3, 0.6, 0.7, 0.8, 0.9, 1.2, 1.5, 2.1, 2.7];
    private static readonly long[] Labels = [0, 0, 1, 1, 1, 1, 1, 1, 0]; // the model's predictions but the last

    private static float[] Image(int i) =>
        [.. Enumerable.Range(0, 16).Select(p => (float)(V[i] * ((p + i) % 16 % 4 - 1.5) / 1.5))];

    private static Tensor Inputs() => tensor(Enumerable.Range(0, V.Length).SelectMany(Image).ToArray(), [V.Length, 1, 4, 4]);

    /// <summary>The tiny model's class probabilities for image i with the channels where <paramref name="keep"/> is false zeroed.</summary>
    private static double[] Probabilities(int i, bool[] keep)
    {
        var r = Image(i).Average(x => Math.Max(0, (double)x));
        var logits = Enumerable.Range(0, 2).Select(k => B[k] + Enumerable.Range(0, 4).Sum(c => keep[c] ? W[k][c] * S[c] * r : 0)).ToArray();
        var z = logits.Sum(Math.Exp);
        return [.. logits.Select(l => Math.Exp(l) / z)];
    }

    /// <summary>Samples correct and Σ probability of <paramref name="targets"/> with the channels where <paramref name="keep"/> is false zeroed.</summary>
    private static (long Correct, double Probability) Hand(bool[] keep, long[] targets)
    {
        long correct = 0;
        double probability = 0;
        for (var i = 0; i < V.Length; i++)
        {
            var p = Probabilities(i, keep);
            if ((p[1] > p[0] ? 1 : 0) == Labels[i]) correct++;
            probability += p[targets[i]];
        }
        return (correct, probability);
    }

    private static bool[] Without(params int[] zeroed) => [.. Enumerable.Range(0, 4).Select(c => !zeroed.Contains(c))];

    private static ExplainModel Tiny() => ExplainModel.Load(TestPaths.Fixture("tiny_pruning.pt"), CPU, "tiny_pruning.pt");

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(20)]
    [InlineData(1000)]
    public void Importance_TinyModel_MatchesHandComputationAndKnownRanking(int maxRows)
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var sums = ChannelPruning.Importance(model, "1", Inputs(), tensor(Labels), tensor(Labels), maxRows);

        var baseline = Hand(Without(), Labels);
        Assert.True(sums.Labelled);
        Assert.Equal(V.Length, sums.Samples);
        Assert.Equal(8, sums.BaselineCorrect);
        Assert.Equal(baseline.Correct, sums.BaselineCorrect);
        Assert.Equal(baseline.Probability, sums.BaselineProbability, 5);
        for (var c = 0; c < 4; c++)
        {
            var expected = Hand(Without(c), Labels);
            Assert.Equal(expected.Correct, sums.Correct[c]);
            Assert.Equal(expected.Probability, sums.Probability[c], 5);
        }
        // Zeroing channel 0 flips r = 0.233, 0.267; channel 1 nothing; channel 2 every r < 2/3 above 2/9; channel 3 r = 0.233.
        Assert.Equal([6L, 8, 3, 7], sums.Correct);
        var ranking = PruningSummary.Rank(sums);
        Assert.Equal(KnownOrder, ranking.Order);
        Assert.Equal([2 / 9.0, 0, 5 / 9.0, 1 / 9.0], ranking.Drop);
        Assert.Equal(0, ranking.ProbabilityDrop[1]);
        Assert.Equal([2, 0, 3, 1], ranking.ByHarm); // the largest drop first: the most important channel leads

        // The summary's signed change (negative: zeroing hurts) and the baseline's Wilson interval over the 9 samples.
        var view = PruningView.Of(sums, null, 0.95);
        Assert.Equal([-2 / 9.0, 0, -5 / 9.0, -1 / 9.0], view.Change);
        Assert.Equal(Intervals.Wilson(8, 9), view.BaselineInterval);
    }

    [Fact]
    public void Importance_LinearFeaturesLayer_EqualsTheConvLayerItPools()
    {
        // Layer "3" (Flatten) gives [n, 4]: zeroing pooled channel c is zeroing conv channel c, the pool being per channel.
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var conv = ChannelPruning.Importance(model, "1", Inputs(), tensor(Labels), tensor(Labels), maxRows: 7);
        var pooled = ChannelPruning.Importance(model, "3", Inputs(), tensor(Labels), tensor(Labels), maxRows: 7);
        Assert.Equal(conv.Correct, pooled.Correct);
        Assert.All(conv.Probability.Zip(pooled.Probability), p => Assert.Equal(p.First, p.Second, 5));
    }

    [Fact]
    public void Importance_TargetsOfAnotherLength_Throws()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => ChannelPruning.Importance(model, "1", Inputs(), null, tensor(new long[] { 1, 0 }), maxRows: 16));
    }

    [Fact]
    public void Importance_NoLabels_RanksByTargetProbabilityDrop()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var targets = Enumerable.Repeat(1L, V.Length).ToArray();
        var sums = ChannelPruning.Importance(model, "1", Inputs(), null, tensor(targets), maxRows: 16);

        Assert.False(sums.Labelled);
        Assert.Equal(0, sums.BaselineCorrect);
        Assert.All(sums.Correct, c => Assert.Equal(0, c));
        var baseline = Hand(Without(), targets).Probability;
        var ranking = PruningSummary.Rank(sums);
        Assert.Equal(KnownOrder, ranking.Order);
        for (var c = 0; c < 4; c++)
            Assert.Equal((baseline - Hand(Without(c), targets).Probability) / V.Length, ranking.Drop[c], 6);
        Assert.Equal(ranking.ProbabilityDrop, ranking.Drop);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(1000)]
    public void Curve_TinyModel_MatchesHandComputation(int maxRows)
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var removed = PruningSummary.CurvePoints(4);
        var sums = ChannelPruning.Curve(model, "1", Inputs(), tensor(Labels), tensor(Labels), KnownOrder, removed, maxRows);

        Assert.Equal([0, 1, 2, 3, 4], sums.Removed);
        for (var k = 0; k <= 4; k++)
        {
            var expected = Hand(Without(KnownOrder[..k]), Labels);
            Assert.Equal(expected.Correct, sums.Correct[k]);
            Assert.Equal(expected.Probability, sums.Probability[k], 5);
        }
        // Margin (4.5 − Σ e)·r − 1: 4.5, 4.5, 4, 3, 0; with every channel zeroed the model says 0, right for the last image.
        Assert.Equal([8L, 8, 7, 5, 3], sums.Correct);
        var curve = PruningSummary.Summarize(sums);
        Assert.Equal([8 / 9.0, 8 / 9.0, 7 / 9.0, 5 / 9.0, 3 / 9.0], curve.Accuracy!);
        Assert.Equal(1, curve.MaxRemovable);
    }

    [Fact]
    public void Summarize_LossOfExactlyOnePoint_CountsAsRemovableAndTakesTheLargestK()
    {
        var sums = new CurveSums(true, 100, [0, 1, 2, 3, 5], [50, 49, 47, 49, 48], [50, 50, 50, 50, 50]);
        var curve = PruningSummary.Summarize(sums);
        Assert.Equal(3, curve.MaxRemovable); // 49/100 ≥ 0.50 − 0.01 exactly; k = 2 and 5 lose more
        var unlabelled = PruningSummary.Summarize(new CurveSums(false, 10, [0, 1, 2], [0, 0, 0], [5, 4.95, 4.8]));
        Assert.Null(unlabelled.Accuracy);
        Assert.Equal(1, unlabelled.MaxRemovable);
    }

    [Fact]
    public void CurvePoints_ManyChannels_DenseThenGeometricEndingAtTheLayerWidth()
    {
        Assert.Equal(Enumerable.Range(0, 129), PruningSummary.CurvePoints(128));
        var points = PruningSummary.CurvePoints(2048);
        Assert.Equal(Enumerable.Range(0, 129), points[..129]);
        Assert.Equal(2048, points[^1]);
        Assert.All(points.Zip(points[1..]), p => Assert.InRange(p.Second, p.First + 1, Math.Max(p.First + 1, (int)Math.Ceiling(p.First * 1.05))));
        Assert.Equal(129 + 65, points.Length);
    }

    [Fact]
    public void Add_DifferentChannelCounts_Throws()
    {
        var a = new ImportanceSums(true, 1, 1, 0.5, [1, 1], [0.5, 0.5]);
        Assert.Throws<ArgumentException>(() => a.Add(a with { Correct = [1], Probability = [0.5] }));
        Assert.Throws<ArgumentException>(() => a.Add(a with { Labelled = false }));
    }

    [Fact]
    public async Task Passes_DemoModelOnFashionMnist_HalvesAddToTheWholeAndBaselineIsPlainAccuracy()
    {
        const int N = 192;
        var images = await ArrayFile.OpenAsync(new LocalBlob(TestPaths.Sample("t10k-images-idx3-ubyte")));
        var labelFile = await ArrayFile.OpenAsync(new LocalBlob(TestPaths.Sample("t10k-labels-idx1-ubyte")));
        var raw = await images.ReadFloatsAsync(0, N);
        var labels = await labelFile.ReadIntegersAsync(0, N);
        using var model = ExplainModel.Load(TestPaths.Sample("model.pt"), CPU, "model.pt");
        using var scope = NewDisposeScope();
        var x = (tensor(raw, [N, 1, 28, 28]) / 255.0f - 0.286f) / 0.353f;
        var y = tensor(labels);
        Tensor Half(Tensor t, int h) => t.narrow(0, h * N / 2, N / 2);

        var whole = ChannelPruning.Importance(model, "10", x, y, y, maxRows: 512);
        var halves = ChannelPruning.Importance(model, "10", Half(x, 0), Half(y, 0), Half(y, 0), maxRows: 100)
            .Add(ChannelPruning.Importance(model, "10", Half(x, 1), Half(y, 1), Half(y, 1), maxRows: 100));
        Assert.Equal(128, whole.Channels);
        Assert.Equal(whole.Samples, halves.Samples);
        Assert.Equal(whole.BaselineCorrect, halves.BaselineCorrect);
        Assert.Equal(whole.Correct, halves.Correct);
        Assert.Equal(whole.BaselineProbability, halves.BaselineProbability, 3);
        Assert.All(whole.Probability.Zip(halves.Probability), p => Assert.Equal(p.First, p.Second, 3));

        var plain = model.Forward(model.PrepareInput(x)).argmax(1).eq(y).sum().item<long>();
        Assert.Equal(plain, whole.BaselineCorrect);

        // One channel through the split by hand: zeroed with index_fill, head, count.
        var ranking = PruningSummary.Rank(whole);
        var decisive = ranking.Order[^1];
        var split = model.Split("10");
        var features = split.Features(model.PrepareInput(x)).index_fill(1, tensor(new long[] { decisive }), 0);
        Assert.Equal(split.Head(features).argmax(1).eq(y).sum().item<long>(), whole.Correct[decisive]);
        Assert.True(ranking.Drop[decisive] > 0);

        var removed = PruningSummary.CurvePoints(128);
        var curve = ChannelPruning.Curve(model, "10", x, y, y, ranking.Order, removed, maxRows: 512);
        var curveHalves = ChannelPruning.Curve(model, "10", Half(x, 0), Half(y, 0), Half(y, 0), ranking.Order, removed, maxRows: 100)
            .Add(ChannelPruning.Curve(model, "10", Half(x, 1), Half(y, 1), Half(y, 1), ranking.Order, removed, maxRows: 100));
        Assert.Equal(curve.Correct, curveHalves.Correct);
        Assert.Equal(plain, curve.Correct[0]);
        Assert.Equal(whole.Correct[ranking.Order[0]], curve.Correct[1]);
        var summary = PruningSummary.Summarize(curve);
        Assert.Equal((double)plain / N, summary.Accuracy![0]);
        Assert.InRange(summary.MaxRemovable, 1, 127);
    }
}
