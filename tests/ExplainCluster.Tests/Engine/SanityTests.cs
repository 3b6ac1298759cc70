using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Sanity;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The cascading randomisation on the tiny CNN, whose saliency maps are computed here by hand: ∂y₀/∂x at pixel p is
/// Σ_c V[0, 9c + p] · w_c · 1[w_c·x_p + b_c > 0] for the 1×1 conv (w, b) and the head V.
/// </summary>
public class SanityTests
{
    private static readonly float[][] Inputs =
    [
        [-0.9f, 0.2f, 0.7f, -0.3f, 0.6f, 0.1f, -0.5f, 0.9f, 0.3f],
        [0.4f, -0.8f, 0.05f, 0.95f, -0.2f, 0.55f, 0.35f, -0.6f, 0.8f],
    ];

    private const int Seed = 11;

    [Fact]
    public void Cascade_TinyCnnSaliency_CorrelationsAndSsimEqualHandComputedOnes()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var input = tensor(Inputs.SelectMany(v => v).ToArray()).view(2, 1, 3, 3);
        var result = SanityCheck.Run(model, [new Saliency()], input, [0, 0], [5, 9], null, 256, Seed);

        // Cascade order: the head ("3", defined second) first, then the conv ("0").
        Assert.Equal(["3", "0"], result.Layers);
        Assert.Equal(2, result.Count);
        var (conv, head) = (new[] { 1.0, -1.0 }, new[] { 0.0, 0.5 });
        var v = new double[18];
        for (var k = 0; k < 2; k++)
            for (var p = 0; p < 9; p++) v[9 * k + p] = TinyModels.HeadW(0, k, p);
        var randomHead = Randomised([2, 18], [2], layer: 1);
        var randomConv = Randomised([2, 1, 1, 1], [2], layer: 0);
        var steps = new[]
        {
            (conv, head, randomHead.Weight),                // step 0: the head re-initialised
            (randomConv.Weight, randomConv.Bias, randomHead.Weight), // step 1: the conv too
        };
        for (var s = 0; s < steps.Length; s++)
        {
            double spearman = 0, ssim = 0;
            foreach (var x in Inputs)
            {
                var before = Saliency(x, conv, head, v);
                var after = Saliency(x, steps[s].Item1, steps[s].Item2, steps[s].Item3);
                spearman += HandSpearman(before, after);
                ssim += WholeImageSsim(before, after);
            }
            Assert.Equal(spearman / 2, result.Methods[0].Spearman[s] / result.Count, 1e-6);
            Assert.Equal(ssim / 2, result.Methods[0].Ssim[s] / result.Count, 1e-6);
        }
        // The example is the first sample's cascade: the original map, then each step's.
        Assert.Equal(5, result.Example.Index);
        var original = Saliency(Inputs[0], conv, head, v);
        for (var p = 0; p < 9; p++) Assert.Equal(original[p], result.Example.Scores[p], 1e-6);
    }

    [Fact]
    public void Cascade_InputAsTheMap_StaysPerfectlyCorrelated_TheModelIsUntouched()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var input = tensor(Inputs.SelectMany(v => v).ToArray()).view(2, 1, 3, 3);
        var before = model.Forward(input).data<float>().ToArray();
        var result = SanityCheck.Run(model, [new InputMap(), new Saliency()], input, [0, 0], [0, 1], null, 1, Seed);
        Assert.All(result.Methods[0].Spearman, s => Assert.Equal(2.0, s, 1e-12));
        Assert.All(result.Methods[0].Ssim, s => Assert.Equal(2.0, s, 1e-9));
        Assert.True(result.Methods[1].Spearman[^1] / 2 < 0.9);
        Assert.Equal(before, model.Forward(input).data<float>().ToArray()); // the original model was never modified
    }

    [Fact]
    public void Spearman_Ties_UseAverageRanks()
    {
        // scipy.stats.spearmanr([1, 2, 2, 3], [1, 3, 2, 4]) = 0.9486832980505138
        Assert.Equal(0.9486832980505138, SanityCheck.Spearman([1f, 2f, 2f, 3f], [1f, 3f, 2f, 4f]), 1e-12);
        Assert.Equal(0, SanityCheck.Spearman([1f, 1f, 1f], [1f, 2f, 3f]));
    }

    [Fact]
    public void Partials_RoundTripThroughTheCodec_AndFoldToMeans_KeepingTheSmallestIndexExample()
    {
        static ShardPartial Shard(int index, long count, double[] spearman, long example) =>
            new(index, count, "s", 0, [count], [SanityFeature.Instance.Pack(new SanityPartial(["fc", "conv"], count,
                [new SanitySums("saliency", spearman, [.. spearman.Select(v => v / 2)])], new SanityExample(example, 1, 2, [example, -example])))], 1);
        static SanityPartial? Sanity(ShardPartial partial) => SanityFeature.Instance.In(partial);
        var (a, b) = (Shard(0, 2, [1.5, 0.25], 40), Shard(1, 3, [1.8, 1.65], 7));
        var decoded = Sanity(PartialCodec.Decode(new MemoryStream(PartialCodec.Encode(b).ToArray()), "test"))!;
        var original = Sanity(b)!;
        Assert.Equal(original.Layers, decoded.Layers);
        Assert.Equal(original.Methods[0].Spearman, decoded.Methods[0].Spearman);
        Assert.Equal(original.Methods[0].Ssim, decoded.Methods[0].Ssim);
        Assert.Equal(original.Example!.Scores, decoded.Example!.Scores);
        Assert.Null(Sanity(PartialCodec.Decode(new MemoryStream(PartialCodec.Encode(b with { Features = [] }).ToArray()), "test")));

        var (summary, cascade) = SanityStatistics.Fold(SanityStatistics.Fold(null, Sanity(a)!), decoded).Summary();
        Assert.Equal(5, summary.Samples);
        var saliency = summary.Methods["saliency"];
        Assert.Equal([(1.5 + 1.8) / 5, (0.25 + 1.65) / 5], saliency.Spearman);
        Assert.False(saliency.Insensitive); // 0.38 after the last step
        Assert.True(SanityStatistics.Fold(null, original).Summary().Summary.Methods["saliency"].Insensitive); // 0.55
        Assert.Equal(7, summary.ExampleIndex);
        Assert.Equal(new long[] { 1, 3, 1, 2 }, cascade!.Shape);
    }

    [Fact]
    public void Summary_StratifiedSample_IsReweightedToTheDatasetsStrata_AndJudgedSo()
    {
        // Last step: two errors (stratum 0) at 0.9, 0.7 and two correct (stratum 1) at 0.1, 0.3. The sample's plain mean
        // is 0.5, above a threshold of 0.4; the dataset is 10 % errors: 0.1 · 0.8 + 0.9 · 0.2 = 0.26, below it.
        var partial = new SanityPartial(["fc"], 4, [new SanitySums("saliency", [2.0], [1.0], [2, 1.6, 1.3, 2, 0.4, 0.1])], null);
        var statistics = SanityStatistics.Fold(null, partial);
        var plain = statistics.Summary(0.4).Summary.Methods["saliency"];
        Assert.Equal(0.5, plain.Last!.Value!.Value, 12);
        Assert.True(plain.Insensitive);
        Assert.False(plain.Reweighted);
        var reweighted = statistics.Summary(0.4, [10, 90]).Summary.Methods["saliency"];
        Assert.Equal(0.26, reweighted.Last!.Value!.Value, 12);
        Assert.True(reweighted.Reweighted);
        Assert.False(reweighted.Insensitive);
        // Variance 0.1² · 0.02 / 2 + 0.9² · 0.02 / 2 (each stratum's s² is 0.02).
        Assert.Equal(0.26 + 1.959963984540054 * Math.Sqrt(0.01 * 0.01 + 0.81 * 0.01), reweighted.Last.High!.Value, 10);
        Assert.Equal(4, reweighted.Last.N);
    }

    private static (double[] Weight, double[] Bias) Randomised(long[] weight, long[] bias, int layer)
    {
        using var scope = NewDisposeScope();
        var tensors = new[] { zeros(weight), zeros(bias) };
        SanityCheck.Reinitialise(tensors, Seed, layer);
        return (tensors[0].to(float64).data<double>().ToArray(), tensors[1].to(float64).data<double>().ToArray());
    }

    private static double[] Saliency(float[] x, double[] w, double[] b, double[] v)
    {
        var map = new double[9];
        for (var p = 0; p < 9; p++)
        {
            double g = 0;
            for (var c = 0; c < 2; c++)
                if ((float)(w[c] * x[p] + b[c]) > 0) g += v[9 * c + p] * w[c];
            map[p] = Math.Abs(g);
        }
        return map;
    }

    /// <summary>Pearson correlation of ranks, each rank counted directly: 1 + #smaller + (#equal − 1)/2.</summary>
    private static double HandSpearman(double[] a, double[] b)
    {
        static double[] Rank(double[] x) =>
            [.. x.Select(xi => 1 + x.Count(y => Same(y) < Same(xi)) + (x.Count(y => Same(y) == Same(xi)) - 1) / 2.0)];
        var (ra, rb) = (Rank(a), Rank(b));
        var (ma, mb) = (ra.Average(), rb.Average());
        var cov = ra.Zip(rb).Sum(p => (p.First - ma) * (p.Second - mb));
        var (va, vb) = (ra.Sum(r => (r - ma) * (r - ma)), rb.Sum(r => (r - mb) * (r - mb)));
        return va == 0 || vb == 0 ? 0 : cov / Math.Sqrt(va * vb);
    }

    private static float Same(double value) => (float)value; // the engine ranks float32 scores

    /// <summary>A 3 × 3 map is one 3 × 3 window: SSIM of the two min-max scaled maps with sample (co)variances.</summary>
    private static double WholeImageSsim(double[] a, double[] b)
    {
        static double[] Scale(double[] x)
        {
            var (lo, hi) = (x.Min(r => (double)Same(r)), x.Max(r => (double)Same(r)));
            return [.. x.Select(r => hi > lo ? (Same(r) - lo) / (hi - lo) : 0)];
        }
        var (x, y) = (Scale(a), Scale(b));
        var (mx, my) = (x.Average(), y.Average());
        var vx = x.Sum(r => (r - mx) * (r - mx)) / 8;
        var vy = y.Sum(r => (r - my) * (r - my)) / 8;
        var cxy = x.Zip(y).Sum(p => (p.First - mx) * (p.Second - my)) / 8;
        const double c1 = 1e-4, c2 = 9e-4;
        return (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
}
