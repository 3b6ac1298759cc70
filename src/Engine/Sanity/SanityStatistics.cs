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
        _sums = [.. first.Methods.Select(m => new SanitySums(m.Method, new double[m.Spearman.Length], new double[m.Ssim.Length],
            m.LastByStratum is { } last ? new double[last.Length] : null))];
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
            if (total._sums[m].LastByStratum is { } last && partial.Methods[m].LastByStratum is { } part)
                for (var i = 0; i < last.Length; i++) last[i] += part[i];
        }
        if (partial.Example is { } e && (total._example is null || e.Index < total._example.Index)) total._example = e;
        return total;
    }

    /// <summary>summary.json's <c>sanity</c>, and the example's cascade as an array beside it.</summary>
    /// <param name="threshold">A method whose last mean correlation is above it is flagged (the job's <c>verdicts.sanityMaxSimilarity</c>).</param>
    /// <param name="strata">The dataset's count per stratum: the last step's mean is reweighted to it; null: the sample's plain mean.</param>
    public (SanitySummary Summary, SummaryArray? Example) Summary(double threshold = SanitySpec.Threshold, long[]? strata = null,
        double confidence = Stats.Intervals.DefaultConfidence)
    {
        var methods = new Dictionary<string, SanityMethod>(StringComparer.Ordinal);
        foreach (var m in _sums)
        {
            var spearman = Array.ConvertAll(m.Spearman, v => _count == 0 ? double.NaN : v / _count);
            var ssim = Array.ConvertAll(m.Ssim, v => _count == 0 ? double.NaN : v / _count);
            Estimate? last = null;
            if (m.LastByStratum is { } byStratum)
            {
                var moments = Enumerable.Range(0, byStratum.Length / 3).Select(h => new MomentSums((long)byStratum[3 * h], byStratum[3 * h + 1], byStratum[3 * h + 2])).ToArray();
                var all = moments.Aggregate(default(MomentSums), (a, b) => a.Add(b));
                last = strata is not null && strata.Length == moments.Length ? Intervals.Reweighted(moments, strata, confidence)
                    : Intervals.Mean(all.Count, all.Sum, all.Squares, confidence);
            }
            // Judged on the reweighted mean where there is one: the sample is drawn by stratum, the dataset is not.
            var judged = last?.Value ?? (spearman.Length > 0 ? spearman[^1] : double.NaN);
            methods[m.Method] = new SanityMethod(spearman, ssim, spearman.Length > 0 && judged > threshold, last, last is not null && strata is not null);
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
/// full randomisation is above <see cref="Threshold"/> (the reweighted mean of <see cref="SanityMethod.Last"/> where kept).
/// <see cref="Cascade"/>: float32 [methods, steps + 1, H, W],
/// the per-pixel scores of sample <see cref="ExampleIndex"/> at each step (0: the original model).
/// </summary>
public sealed record SanitySummary(long Samples, double Threshold, string[] Layers, Dictionary<string, SanityMethod> Methods, long? ExampleIndex, string? Cascade);

/// <param name="Last">The Spearman correlation after the whole cascade: its mean over the dataset (the stratified sample
/// reweighted to the dataset's strata when <see cref="Reweighted"/>) with its interval and n; null from partials without it.</param>
public sealed record SanityMethod(double[] Spearman, double[] Ssim, bool Insensitive, Estimate? Last = null, bool Reweighted = false);
