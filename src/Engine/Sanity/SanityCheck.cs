using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Sanity;

/// <summary>
/// The cascading model-randomisation test of Adebayo et al. (2018) on a shard's sanity samples. A separate copy of
/// the model is loaded (the original is never touched); its parameterised layers are re-initialised one more per
/// step, from the output layer down (<see cref="Reinitialise"/>), and after each step every map method runs again
/// for the same targets. Each map becomes per-pixel scores, Σ over channels of |map| (Grad-CAM upsampled, as for
/// faithfulness), compared with the original model's by Spearman rank correlation (average ranks for ties; 0 when
/// either map is constant) and by SSIM (<see cref="Ssim"/>).
/// </summary>
public static class SanityCheck
{
    /// <param name="input">The sanity samples as the model takes them, [m, ...], in dataset-index order.</param>
    /// <param name="targets">The class each is explained for (the original model's, kept for every step).</param>
    /// <param name="indices">Their dataset indices: the first one's cascade is kept as the shard's example.</param>
    /// <param name="strata">Each sample's stratum (target class × correct) of <paramref name="strataCount"/>, to keep the last
    /// step's correlations per stratum (<see cref="SanitySums.LastByStratum"/>); null to keep none.</param>
    public static SanityResult Run(ExplainModel model, IReadOnlyList<IAttributionMethod> methods, Tensor input, long[] targets, long[] indices,
        BatchSegments? segments, int batchSize, int seed, int[]? strata = null, int strataCount = 0)
    {
        var layers = model.ParameterLayers().Select(l => l.Layer).Reverse().ToArray();
        var m = targets.Length;
        var (height, width) = ((int)input.shape[^2], (int)input.shape[^1]);
        var pixels = height * width;
        var original = Scores(model, methods, input, targets, indices, segments, batchSize);
        // The original maps' ranks, once: each step compares against them.
        var originalRanks = original.Select(scores => Enumerable.Range(0, m).Select(i => Ranks(scores.AsSpan(i * pixels, pixels))).ToArray()).ToArray();
        var spearman = methods.Select(_ => new double[layers.Length]).ToArray();
        var ssim = methods.Select(_ => new double[layers.Length]).ToArray();
        var last = methods.Select(_ => strata is null ? null : new double[3 * strataCount]).ToArray();
        var example = new float[methods.Count * (layers.Length + 1) * pixels];
        for (var k = 0; k < methods.Count; k++) original[k].AsSpan(0, pixels).CopyTo(example.AsSpan(k * (layers.Length + 1) * pixels));

        using var copy = model.LoadCopy();
        var parameters = copy.ParameterLayers().Reverse().ToArray();
        for (var step = 0; step < layers.Length; step++)
        {
            Reinitialise(parameters[step].Parameters, seed, layers.Length - 1 - step);
            var randomised = Scores(copy, methods, input, targets, indices, segments, batchSize);
            for (var k = 0; k < methods.Count; k++)
            {
                for (var i = 0; i < m; i++)
                {
                    var r = Correlation(originalRanks[k][i], Ranks(randomised[k].AsSpan(i * pixels, pixels)));
                    spearman[k][step] += r;
                    if (last[k] is not { } byStratum || step != layers.Length - 1) continue;
                    var h = 3 * strata![i];
                    (byStratum[h], byStratum[h + 1], byStratum[h + 2]) = (byStratum[h] + 1, byStratum[h + 1] + r, byStratum[h + 2] + r * r);
                }
                ssim[k][step] += Ssim(original[k], randomised[k], m, height, width).Sum();
                randomised[k].AsSpan(0, pixels).CopyTo(example.AsSpan((k * (layers.Length + 1) + step + 1) * pixels));
            }
        }
        return new SanityResult(layers, m, [.. methods.Select((method, k) => new SanitySums(method.Name, spearman[k], ssim[k], last[k]))],
            new SanityExample(indices[0], height, width, example));
    }

    /// <summary>
    /// Re-initialises one layer in place, the same on every machine: each parameter tensor from U(−b, b) with
    /// b = 1/√fan_in of the layer's first tensor of two or more dimensions (fan_in = its size / its first dim; PyTorch's
    /// default for Linear and Conv), or b = 1 for a layer without one (normalisation layers); drawn on the CPU from
    /// a generator seeded by (seed, layer position in definition order, tensor position).
    /// </summary>
    public static void Reinitialise(IReadOnlyList<Tensor> parameters, int seed, int layer)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var weight = parameters.FirstOrDefault(p => p.dim() >= 2);
        var bound = weight is null ? 1.0 : 1.0 / Math.Sqrt(weight.numel() / weight.shape[0]);
        for (var t = 0; t < parameters.Count; t++)
        {
            var p = parameters[t];
            using var generator = new Generator(SampleSeeds.For(seed, (long)layer * 1024 + t), CPU);
            using Scalar width = (2 * bound).ToScalar(), shift = bound.ToScalar(); // held through the calls (Scalars)
            var values = rand(p.shape, generator: generator, dtype: float64, device: CPU).mul_(width).sub_(shift);
            p.copy_(values.to(p.dtype).to(p.device));
        }
    }

    /// <summary>Per method, the samples' per-pixel scores [m, H, W] row-major, on the CPU.</summary>
    private static float[][] Scores(ExplainModel model, IReadOnlyList<IAttributionMethod> methods, Tensor input, long[] targets, long[] indices,
        BatchSegments? segments, int batchSize)
    {
        var m = targets.Length;
        var pixels = (int)(input.shape[^2] * input.shape[^1]);
        var scores = methods.Select(_ => new float[m * pixels]).ToArray();
        var layer = methods.Select(x => x.Layer).OfType<string>().FirstOrDefault();
        var split = layer is null ? null : model.Split(layer);
        for (var start = 0; start < m; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(batchSize, m - start);
            var x = input.narrow(0, start, count);
            var target = tensor(targets.AsSpan(start, count).ToArray()).to(model.Device);
            var shared = GradientBatch.Compute(model, x, target, split, methods.Any(k => k.UsesSharedGradients));
            var rows = segments is null ? null
                : new BatchSegments(segments.Labels.narrow(0, start, count), segments.Counts.AsSpan(start, count).ToArray());
            var batch = new MethodBatch(model, shared, indices.AsSpan(start, count).ToArray(), batchSize, rows);
            for (var k = 0; k < methods.Count; k++)
            {
                var maps = methods[k].Attribute(batch).Maps.detach();
                var pixelScores = PixelScores.For(maps.abs(), x).contiguous().cpu();
                pixelScores.data<float>().CopyTo(scores[k].AsSpan(start * pixels, count * pixels));
            }
        }
        return scores;
    }

    /// <summary>Spearman's rank correlation of two equally long score lists (average ranks for ties); 0 if either is constant.</summary>
    public static double Spearman(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => Correlation(Ranks(a), Ranks(b));

    /// <summary>Pearson correlation of two rank lists (ranks 1..n, so both have mean (n + 1)/2); 0 if either is constant.</summary>
    private static double Correlation(double[] ra, double[] rb)
    {
        var mean = (ra.Length + 1) / 2.0;
        double sab = 0, saa = 0, sbb = 0;
        for (var i = 0; i < ra.Length; i++)
        {
            var (da, db) = (ra[i] - mean, rb[i] - mean);
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        return saa == 0 || sbb == 0 ? 0 : sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>Ranks from 1, ties given the mean of the ranks they span (scipy's "average").</summary>
    public static double[] Ranks(ReadOnlySpan<float> values)
    {
        var copy = values.ToArray();
        var order = Enumerable.Range(0, copy.Length).ToArray();
        Array.Sort(copy, order);
        var ranks = new double[copy.Length];
        for (var i = 0; i < copy.Length;)
        {
            var j = i;
            while (j + 1 < copy.Length && copy[j + 1] == copy[i]) j++;
            var rank = (i + j) / 2.0 + 1;
            for (var k = i; k <= j; k++) ranks[order[k]] = rank;
            i = j + 1;
        }
        return ranks;
    }

    /// <summary>
    /// SSIM per sample of two score maps [m, H, W], each first scaled to [0, 1] by its own min and max (a constant map
    /// becomes 0): scikit-image's structural_similarity with data_range 1 and its defaults (a 7 × 7 uniform window,
    /// or the largest odd one that fits a smaller map, sample covariances, K1 0.01, K2 0.03), averaged over the
    /// windows that lie wholly inside the map.
    /// </summary>
    public static double[] Ssim(float[] a, float[] b, int m, int height, int width)
    {
        using var scope = NewDisposeScope();
        var win = Math.Min(7, Math.Min(height, width));
        if (win % 2 == 0) win--;
        var x = Normalise(tensor(a, [m, 1, height, width], float64));
        var y = Normalise(tensor(b, [m, 1, height, width], float64));
        Tensor Mean(Tensor t) => nn.functional.avg_pool2d(t, win, 1);
        var n = (double)win * win;
        var covNorm = n / (n - 1);
        var (ux, uy) = (Mean(x), Mean(y));
        // Rooted Scalars throughout (Scalars).
        var vx = (Mean(x * x) - ux * ux).Times(covNorm);
        var vy = (Mean(y * y) - uy * uy).Times(covNorm);
        var vxy = (Mean(x * y) - ux * uy).Times(covNorm);
        const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
        var s = (ux.Times(2) * uy).Plus(c1) * vxy.Times(2).Plus(c2) / ((ux * ux).Plus(uy * uy).Plus(c1) * vx.Plus(vy).Plus(c2));
        return s.flatten(1).mean([1]).data<double>().ToArray();
    }

    private static Tensor Normalise(Tensor maps)
    {
        var flat = maps.flatten(1);
        var (low, high) = (flat.min(1).values.view(-1, 1, 1, 1), flat.max(1).values.view(-1, 1, 1, 1));
        var range = high - low;
        return where(range.IsPositive(), (maps - low) / range.AtLeast(1e-300), zeros_like(maps)); // rooted Scalars (Scalars)
    }
}

/// <summary>A shard's sanity sums (<see cref="SanityPartial"/> before it travels): per method, Σ over its samples per step.</summary>
public sealed record SanityResult(string[] Layers, long Count, SanitySums[] Methods, SanityExample Example)
{
    public SanityPartial Partial() => new(Layers, Count, Methods, Example);
}
