using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>
/// Param-grads as mergeable statistics: per (target class, correct) cell the count, Σ norm, Σ norm² and a histogram of
/// log10 norm, per layer the mean norm (from the method's own summary), and the largest norms over the job.
/// </summary>
public sealed class ParamGradStatistics
{
    /// <summary>How many of the largest-norm samples the summary lists (and the report draws).</summary>
    public const int LargestCount = 16;

    private readonly ParamGradLayer[] _layers;
    private readonly long[] _counts;
    private readonly double[] _sums;
    private readonly double[] _squares;
    private readonly long[] _histograms;
    private NormEntry[] _largest = [];

    private ParamGradStatistics(ParamGradPartial first)
    {
        _layers = first.Layers;
        _counts = new long[first.CellCounts.Length];
        _sums = new double[first.CellNormSums.Length];
        _squares = new double[first.CellNormSquares.Length];
        _histograms = new long[first.CellHistograms.Length];
    }

    /// <summary>A shard's partial from its <c>param_grad_norm</c> column (NaN outside the method's subset).</summary>
    public static ParamGradPartial Partial(ParamGradLayer[] layers, ShardResult r, int shard)
    {
        var norms = r.Methods.Single(m => m.Name == ParamGradsMethod.MethodName).Columns.Single(c => c.Name == "param_grad_norm").Values;
        var cells = 2 * r.Classes;
        var (counts, sums, squares, histograms) = (new long[cells], new double[cells], new double[cells], new long[cells * ParamGradPartial.Bins]);
        var largest = new List<NormEntry>();
        for (var i = 0; i < r.Count; i++)
        {
            var norm = norms[i];
            if (float.IsNaN(norm)) continue;
            var label = r.Labels is null ? -1 : (int)r.Labels[i];
            var correct = r.Labels is null || label == r.Predictions[i];
            var cell = (int)r.Targets[i] * 2 + (correct ? 1 : 0);
            counts[cell]++;
            sums[cell] += norm;
            squares[cell] += (double)norm * norm;
            histograms[cell * ParamGradPartial.Bins + Bin(norm)]++;
            largest.Add(new NormEntry(r.IndexOf(i), norm, label, r.Predictions[i], shard, i));
        }
        return new ParamGradPartial(layers, counts, sums, histograms, Largest(largest), squares);
    }

    public static int Bin(double norm)
    {
        var at = (Math.Log10(Math.Max(norm, 1e-300)) - ParamGradPartial.LogLow) / (ParamGradPartial.LogHigh - ParamGradPartial.LogLow) * ParamGradPartial.Bins;
        return (int)Math.Clamp(Math.Floor(at), 0, ParamGradPartial.Bins - 1);
    }

    private static NormEntry[] Largest(IEnumerable<NormEntry> entries) =>
        [.. entries.OrderByDescending(e => e.Norm).ThenBy(e => e.Index).Take(LargestCount)];

    public static ParamGradStatistics Fold(ParamGradStatistics? total, ParamGradPartial partial)
    {
        total ??= new ParamGradStatistics(partial);
        if (partial.CellCounts.Length != total._counts.Length || !partial.Layers.Select(l => l.Name).SequenceEqual(total._layers.Select(l => l.Name)))
            throw new ArgumentException("param-grads partials of different shapes", nameof(partial));
        for (var c = 0; c < total._counts.Length; c++)
        {
            total._counts[c] += partial.CellCounts[c];
            total._sums[c] += partial.CellNormSums[c];
            total._squares[c] += partial.CellNormSquares[c];
        }
        for (var b = 0; b < total._histograms.Length; b++) total._histograms[b] += partial.CellHistograms[b];
        total._largest = Largest(total._largest.Concat(partial.Largest));
        return total;
    }

    /// <param name="layerMeans">Each layer's mean norm over the samples (the method's mean |map|).</param>
    /// <param name="confidence">The level of each group's interval of its mean norm.</param>
    public ParamGradSummary Summary(string[] classNames, double[]? layerMeans, double confidence = Stats.Intervals.DefaultConfidence)
    {
        var classes = _counts.Length / 2;
        var bins = ParamGradPartial.Bins;
        Group Of(IEnumerable<int> cells)
        {
            var list = cells.ToArray();
            var count = list.Sum(c => _counts[c]);
            var histogram = new long[bins];
            foreach (var c in list)
                for (var b = 0; b < bins; b++) histogram[b] += _histograms[c * bins + b];
            var sum = list.Sum(c => _sums[c]);
            return new Group(count, count == 0 ? null : sum / count, histogram, Stats.Intervals.Mean(count, sum, list.Sum(c => _squares[c]), confidence));
        }
        var perClass = Enumerable.Range(0, classes).Where(c => _counts[2 * c] + _counts[2 * c + 1] > 0)
            .Select(c => new ParamGradClass(c, classNames[c], Of([2 * c, 2 * c + 1]), Of([2 * c + 1]), Of([2 * c])));
        var edges = Enumerable.Range(0, bins + 1).Select(b => ParamGradPartial.LogLow + b * (ParamGradPartial.LogHigh - ParamGradPartial.LogLow) / bins).ToArray();
        return new ParamGradSummary(
            [.. _layers.Select((l, i) => new ParamGradLayerSummary(l.Name, l.Parameters, l.Vectorised, l.How, layerMeans?[i]))],
            Of(Enumerable.Range(0, classes).Select(c => 2 * c + 1)), Of(Enumerable.Range(0, classes).Select(c => 2 * c)),
            [.. perClass], edges, _largest);
    }
}

/// <summary>
/// summary.json's <c>paramGrads</c>: the layers (with their mean gradient norm and whether they were vectorised),
/// the whole-gradient norm's distribution for correct and incorrect samples and per target class (counts, means,
/// histograms over log10 norm with <see cref="Log10Edges"/>), and the samples with the largest norms.
/// </summary>
public sealed record ParamGradSummary(ParamGradLayerSummary[] Layers, Group Correct, Group Incorrect, ParamGradClass[] PerClass, double[] Log10Edges, NormEntry[] Largest);

public sealed record ParamGradLayerSummary(string Name, long Parameters, bool Vectorised, string How, double? MeanNorm);

public sealed record ParamGradClass(int Class, string Name, Group All, Group Correct, Group Incorrect);

/// <summary>
/// A group of samples: how many, their mean whole-gradient norm (null for none), the histogram of log10 norm, and the mean
/// with its interval (from Σ norm and Σ norm²; no interval under two samples; null in a summary written before it was kept).
/// </summary>
public sealed record Group(long Count, double? MeanNorm, long[] Histogram, Stats.Estimate? MeanNormInterval = null);
