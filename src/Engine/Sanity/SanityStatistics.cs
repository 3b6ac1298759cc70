using ExplainCluster.Contracts;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Sanity;

/// <summary>The sanity sums of a job: shard partials added in shard order, the example with the smallest dataset index kept.</summary>
public sealed class SanityStatistics
{
    private readonly string[] _layers;
    private readonly SanitySums[] _sums;
    private long _count;
    private SanityExample? _example;

    private SanityStatistics(SanityPartial first)
    {
        _layers = first.Layers;
        _sums = [.. first.Methods.Select(m => new SanitySums(m.Method, new double[m.Spearman.Length], new double[m.Ssim.Length]))];
    }

    public static SanityStatistics Fold(SanityStatistics? total, SanityPartial partial)
    {
        total ??= new SanityStatistics(partial);
        if (!partial.Layers.SequenceEqual(total._layers) || partial.Methods.Length != total._sums.Length)
            throw new ArgumentException("sanity partials of different shapes", nameof(partial));
        total._count += partial.Count;
        for (var m = 0; m < total._sums.Length; m++)
        {
            for (var s = 0; s < total._layers.Length; s++)
            {
                total._sums[m].Spearman[s] += partial.Methods[m].Spearman[s];
                total._sums[m].Ssim[s] += partial.Methods[m].Ssim[s];
            }
        }
        if (partial.Example is { } e && (total._example is null || e.Index < total._example.Index)) total._example = e;
        return total;
    }

    /// <summary>summary.json's <c>sanity</c>, and the example's cascade as an array beside it.</summary>
    /// <param name="threshold">A method whose last mean correlation is above it is flagged (the job's <c>verdicts.sanityMaxSimilarity</c>).</param>
    public (SanitySummary Summary, SummaryArray? Example) Summary(double threshold = SanitySpec.Threshold)
    {
        var methods = new Dictionary<string, SanityMethod>(StringComparer.Ordinal);
        foreach (var m in _sums)
        {
            var spearman = Array.ConvertAll(m.Spearman, v => _count == 0 ? double.NaN : v / _count);
            var ssim = Array.ConvertAll(m.Ssim, v => _count == 0 ? double.NaN : v / _count);
            methods[m.Method] = new SanityMethod(spearman, ssim, spearman.Length > 0 && spearman[^1] > threshold);
        }
        SummaryArray? example = null;
        string? file = null;
        if (_example is { } e)
        {
            file = OutputLayout.SummaryArray("sanity-cascade");
            example = new SummaryArray(file, [_sums.Length, _layers.Length + 1, e.Height, e.Width], e.Scores);
        }
        return (new SanitySummary(_count, threshold, _layers, methods, _example?.Index, file), example);
    }
}

/// <summary>
/// summary.json's <c>sanity</c>: how many samples, the layers in cascade order (step s has re-initialised
/// layers 0..s of this list), and per map method the mean Spearman rank correlation and mean SSIM with the
/// original model's maps at each step; <see cref="SanityMethod.Insensitive"/> when the correlation after
/// full randomisation is above <see cref="Threshold"/>. <see cref="Cascade"/>: float32 [methods, steps + 1, H, W],
/// the per-pixel scores of sample <see cref="ExampleIndex"/> at each step (0: the original model).
/// </summary>
public sealed record SanitySummary(long Samples, double Threshold, string[] Layers, Dictionary<string, SanityMethod> Methods, long? ExampleIndex, string? Cascade);

public sealed record SanityMethod(double[] Spearman, double[] Ssim, bool Insensitive);
