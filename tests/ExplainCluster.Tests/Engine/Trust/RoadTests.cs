using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Trust;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine.Trust;

/// <summary>
/// ROAD against a direct computation: pytorch-grad-cam's NoisyLinearImputer system (setup_sparse_system: −Σ valid weights
/// on the diagonal, the removed neighbours' weights beside it, the known neighbours' values on the right) written out
/// densely here and solved by Gaussian elimination, the tiny CNN's logits by hand (TinyModels.CnnLogits).
/// </summary>
public class RoadTests
{
    private static readonly (int Dy, int Dx, double W)[] Weights =
        [(1, 1, 1 / 12.0), (0, 1, 1 / 6.0), (-1, 1, 1 / 12.0), (1, -1, 1 / 12.0), (0, -1, 1 / 6.0), (-1, -1, 1 / 12.0), (1, 0, 1 / 6.0), (-1, 0, 1 / 6.0)];

    /// <summary>The imputed image of one channel [h·w] with <paramref name="removed"/> pixels, as grad-cam's spsolve gives it.</summary>
    private static double[] DirectImpute(double[] img, bool[] removed, int h, int w)
    {
        var unknown = Enumerable.Range(0, h * w).Where(p => removed[p]).ToArray();
        var id = new Dictionary<int, int>();
        for (var i = 0; i < unknown.Length; i++) id[unknown[i]] = i;
        var n = unknown.Length;
        var a = new double[n, n + 1];
        for (var i = 0; i < n; i++)
        {
            var (y, x) = (unknown[i] / w, unknown[i] % w);
            var sum = 1.0;
            foreach (var (dy, dx, weight) in Weights)
            {
                var (yy, xx) = (y + dy, x + dx);
                if (yy < 0 || xx < 0 || yy >= h || xx >= w) { sum -= weight; continue; }
                var q = yy * w + xx;
                if (removed[q]) a[i, id[q]] = weight;
                else a[i, n] -= weight * img[q];
            }
            a[i, i] = -sum;
        }
        for (var c = 0; c < n; c++) // Gaussian elimination with partial pivoting
        {
            var pivot = Enumerable.Range(c, n - c).MaxBy(r => Math.Abs(a[r, c]));
            for (var k = 0; k <= n; k++) (a[c, k], a[pivot, k]) = (a[pivot, k], a[c, k]);
            for (var r = 0; r < n; r++)
            {
                if (r == c) continue;
                var f = a[r, c] / a[c, c];
                for (var k = c; k <= n; k++) a[r, k] -= f * a[c, k];
            }
        }
        var result = (double[])img.Clone();
        for (var i = 0; i < n; i++) result[unknown[i]] = a[i, n] / a[i, i];
        return result;
    }

    [Fact]
    public void Impute_RandomMask_EqualsTheSparseSystemSolvedDirectly()
    {
        using var scope = NewDisposeScope();
        const int h = 6, w = 5, channels = 2, n = 3;
        var random = new Random(4);
        var values = Enumerable.Range(0, n * channels * h * w).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var removed = Enumerable.Range(0, n * h * w).Select(i => i / (h * w) == 2 ? i % 3 != 0 : random.NextDouble() < 0.5 + 0.1 * (i / (h * w))).ToArray();
        var imputed = Road.Impute(tensor(values, [n, channels, h, w]), tensor(removed, [n, h, w]), zeros(n, channels, h, w)).data<float>().ToArray();
        for (var i = 0; i < n; i++)
            for (var c = 0; c < channels; c++)
            {
                var plane = values.AsSpan((i * channels + c) * h * w, h * w).ToArray().Select(v => (double)v).ToArray();
                var expected = DirectImpute(plane, removed.AsSpan(i * h * w, h * w).ToArray(), h, w);
                for (var p = 0; p < h * w; p++) Assert.Equal(expected[p], imputed[(i * channels + c) * h * w + p], 1e-5);
            }
        Assert.NotEqual(values, imputed); // not vacuous
    }

    private static readonly float[][] Inputs =
    [
        [-0.9f, 0.2f, 0.7f, -0.3f, 0.6f, 0.1f, -0.5f, 0.9f, 0.3f],
        [0.4f, -0.8f, 0.05f, 0.95f, -0.2f, 0.55f, 0.35f, -0.6f, 0.8f],
    ];

    /// <summary>Maps with distinct scores, so the ranking has no ties.</summary>
    private static readonly float[][] Maps =
    [
        [0.3f, -1.2f, 2.0f, 0.7f, 0.1f, -0.4f, 1.1f, 0.9f, -2.2f],
        [1.5f, 0.2f, -0.3f, 0.8f, 2.4f, -1.0f, 0.05f, 0.6f, 1.2f],
    ];

    private static (double[] Morf, double[] Lerf) Run(RoadSpec spec, int maxRows, long firstIndex = 0)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var x = tensor(Inputs.SelectMany(v => v).ToArray()).view(2, 1, 3, 3);
        var shared = GradientBatch.Compute(model, x, zeros(2, dtype: ScalarType.Int64), null, needGradients: false);
        var batch = new MethodBatch(model, shared, [firstIndex, firstIndex + 1], maxRows);
        return Road.Compute(batch, tensor(Maps.SelectMany(v => v).ToArray()).view(2, 1, 3, 3), spec, seed: 2);
    }

    private static double Softmax0(float[] logits) => 1 / (1 + Math.Exp(logits[1] - logits[0]));

    [Theory]
    [InlineData(256)]
    [InlineData(5)] // 2 samples × 9 percentages × 2 orders in passes of 5
    public void Road_TinyCnnWithoutNoise_EqualsTheDirectComputation(int maxRows)
    {
        var spec = new RoadSpec(RoadSpec.DefaultPercentiles, Noise: 0);
        var (morf, lerf) = Run(spec, maxRows);
        for (var i = 0; i < 2; i++)
        {
            var order = Enumerable.Range(0, 9).OrderByDescending(p => Maps[i][p]).ToArray();
            double morfSum = 0, lerfSum = 0;
            foreach (var percent in spec.Percentiles)
            {
                var count = (int)Math.Round(percent * 9 / 100.0, MidpointRounding.ToEven); // 1, 2, 3, 4, 4, 5, 6, 7, 8
                double Probability(IEnumerable<int> pixels)
                {
                    var removed = new bool[9];
                    foreach (var p in pixels) removed[p] = true;
                    var imputed = DirectImpute([.. Inputs[i].Select(v => (double)v)], removed, 3, 3);
                    return Softmax0(TinyModels.CnnLogits([.. imputed.Select(v => (float)v)]));
                }
                morfSum += Probability(order.Take(count));
                lerfSum += Probability(order.Reverse().Take(count));
            }
            // The target's probability is small (class 1 dominates the tiny CNN): compared relatively.
            Assert.Equal(1, morf[i] / (morfSum / 9), 1e-5);
            Assert.Equal(1, lerf[i] / (lerfSum / 9), 1e-5);
            Assert.True(Math.Abs(morf[i] / lerf[i] - 1) > 0.01); // the two orders differ, so the comparisons above can fail
        }
    }

    [Fact]
    public void Road_Noise_SeededPerSampleWhateverThePasses()
    {
        var spec = new RoadSpec(RoadSpec.DefaultPercentiles, Noise: 0.05);
        var (a, b) = (Run(spec, 256), Run(spec, 7));
        // The same draws in passes of 7 rows as in one pass (the model's own kernels round differently at another batch size).
        foreach (var (x, y) in a.Morf.Concat(a.Lerf).Zip(b.Morf.Concat(b.Lerf))) Assert.Equal(1, x / y, 1e-6);
        var quiet = Run(spec with { Noise = 0 }, 256);
        Assert.NotEqual(quiet.Morf, a.Morf); // the noise is there
        Assert.NotEqual(a.Morf, Run(spec, 256, firstIndex: 10).Morf); // and is each sample's own
    }
}
