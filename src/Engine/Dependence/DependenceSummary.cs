using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Dependence;

/// <summary>
/// summary.json's <c>dependence</c>: per curve feature its partial dependence, ALE and ICE curves over its grid, and every
/// feature's permutation importance for accuracy.
/// </summary>
/// <param name="Response">"probability" (softmax of the logits) or "logit": what the curves' values are.</param>
/// <param name="Rows">The rows every curve averages over (the whole table).</param>
/// <param name="SampleRows">The seeded sample's rows (the grids' quantiles, the ICE rows and permutation's draws come from it).</param>
/// <param name="QuantileError">The DKW bound on every grid point's quantile level at <paramref name="Confidence"/> (0: the sample is the table).</param>
public sealed record DependenceSummary(string Response, long Rows, int SampleRows, int SampleSeed, double QuantileError, double Confidence,
    string[] Classes, DependenceCurves[] Features, PermutationImportance? Permutation);

/// <param name="Grid">The grid in the table's units (a categorical feature's level indices, named by <paramref name="Levels"/>).</param>
/// <param name="Pdp">[grid][class]: the mean response over every row with the feature set to the grid value.</param>
/// <param name="Ale">[grid][class]: first-order ALE at the grid values, accumulated over the quantile bins and centred (null for a categorical feature).</param>
/// <param name="AleCounts">Rows per bin (bin k between grid values k − 1 and k).</param>
/// <param name="IceRows">The ICE rows' dataset indices; <paramref name="Ice"/> is [row][grid][class].</param>
/// <param name="Attributions">Each method's attribution of the feature against its value over the seeded sample's rows, in the
/// grid's bins (a categorical feature: by level); null when no method has per-feature attributions.</param>
/// <param name="Points">float32 [1 + methods, sample rows]: the sample's values of the feature (the table's units) and each
/// method's attribution of it (NaN where the method left the row out), in <paramref name="Attributions"/>' method order.</param>
public sealed record DependenceCurves(string Feature, bool Categorical, double[] Grid, string[]? Levels, double[][] Pdp, double[][]? Ale, long[]? AleCounts,
    long[] IceRows, float[][][] Ice, DependenceAttribution[]? Attributions = null, string? Points = null);

/// <summary>One method's attribution of a feature against the feature's value (SHAP's dependence plot, binned).</summary>
/// <param name="N">Sample rows the method explained.</param>
public sealed record DependenceAttribution(string Method, long N, DependenceBin[] Bins);

/// <summary>
/// The sample rows whose value lies in one bin: (<paramref name="Lower"/>, <paramref name="Upper"/>] between two grid points
/// (the first bin closed below, values past the ends in the end bins), or one level of a categorical feature
/// (<paramref name="Level"/>); their attributions' mean with its normal interval, and their standard deviation (the spread).
/// </summary>
public sealed record DependenceBin(double Lower, double Upper, string? Level, long N, Estimate Mean, double Sd);

/// <param name="Accuracy">The unpermuted accuracy over the labelled rows.</param>
public sealed record PermutationImportance(int Repeats, int Seed, long Labelled, double Accuracy, PermutationFeature[] Features);

/// <param name="Drop">The mean accuracy drop over the repeats, with its normal interval; <paramref name="Drops"/> each repeat's.</param>
public sealed record PermutationFeature(string Feature, Estimate Drop, double[] Drops);

public static class DependenceSummaries
{
    public static DependenceSummary Of(JobSpec job, DependenceWork work, DependenceSamplePartial sample, DependencePostPartial[] posts, SummaryDraft draft)
    {
        var (spec, table) = (job.Dependence!, job.Data.Table!);
        var sampleRows = sample.Index.Length;
        var rows = posts.Sum(p => p.Rows);
        var classes = posts.Max(p => p.Classes);
        var curves = work.Features.Select((f, k) => Curves(table.Features[f], work.Grid[k], [.. posts.Select(p => p.Curves[k])], rows, classes)
            with { Attributions = Attributions(table.Features[f], work.Grid[k], work.Values[f], sample, f, draft.Settings.Confidence) }).ToArray();
        for (var k = 0; k < curves.Length; k++)
        {
            if (curves[k].Attributions is not { Length: > 0 } attributed) continue;
            var f = work.Features[k];
            var (m, methods) = (sampleRows, sample.Methods.Length);
            var points = new float[(1 + methods) * m];
            for (var r = 0; r < m; r++)
            {
                points[r] = (float)Raw(table.Features[f], work.Values[f][r]);
                for (var i = 0; i < methods; i++) points[(1 + i) * m + r] = sample.Attributions[((long)r * methods + i) * sample.Features + f];
            }
            var file = Output.OutputLayout.SummaryArray($"dependence-points-{k}");
            draft.Arrays.Add(new SummaryArray(file, [1 + methods, m], points));
            curves[k] = curves[k] with { Points = file };
        }
        PermutationImportance? permutation = null;
        if (work.Repeats > 0 && posts.Sum(p => p.Labelled) is var labelled and > 0)
        {
            var (repeats, baseCorrect) = (work.Repeats, posts.Sum(p => p.BaseCorrect));
            permutation = new PermutationImportance(repeats, work.Seed, labelled, (double)baseCorrect / labelled, [.. table.Features.Select((f, j) =>
            {
                var drops = Enumerable.Range(0, repeats).Select(r => (double)(baseCorrect - posts.Sum(p => p.Correct.Length == 0 ? 0 : p.Correct[j * repeats + r])) / labelled).ToArray();
                return new PermutationFeature(f.Name, Intervals.Mean(repeats, drops.Sum(), drops.Sum(d => d * d), draft.Settings.Confidence), drops);
            })]);
        }
        return new DependenceSummary(work.Logit ? "logit" : "probability", rows, sampleRows, spec.Seed, DependenceSample.QuantileError(sampleRows, rows, draft.Settings.Confidence),
            draft.Settings.Confidence, draft.Names, curves, permutation);
    }

    private static DependenceCurves Curves(TableFeature feature, float[] grid, CurveSums[] shards, long rows, int classes)
    {
        var g = grid.Length;
        double Total(Func<CurveSums, double[][]> of, int i)
        {
            var sum = new ExactSum();
            foreach (var s in shards) sum.Add(ExactSum.Of(of(s)[i]));
            return sum.Value;
        }
        var pdp = Enumerable.Range(0, g).Select(j => Enumerable.Range(0, classes).Select(c => Total(s => s.Pdp, j * classes + c) / rows).ToArray()).ToArray();
        double[][]? ale = null;
        long[]? counts = null;
        if (!feature.Categorical)
        {
            counts = [.. Enumerable.Range(0, g - 1).Select(k => shards.Sum(s => s.AleCount[k]))];
            ale = Ale(counts, Enumerable.Range(0, g - 1).Select(k => Enumerable.Range(0, classes).Select(c => Total(s => s.Ale, k * classes + c)).ToArray()).ToArray());
        }
        var iceRows = shards.SelectMany(s => s.IceIndex).ToArray();
        var ice = shards.SelectMany(s => Enumerable.Range(0, s.IceIndex.Length).Select(r =>
            Enumerable.Range(0, g).Select(j => s.Ice.AsSpan((r * g + j) * classes, classes).ToArray()).ToArray())).ToArray();
        return new DependenceCurves(feature.Name, feature.Categorical, [.. grid.Select(v => Raw(feature, v))], feature.Levels, pdp, ale, counts, iceRows, ice);
    }

    /// <summary>Each method's attribution of feature <paramref name="f"/> over the sample's rows, in the grid's bins; null when no method has them.</summary>
    private static DependenceAttribution[]? Attributions(TableFeature feature, float[] grid, float[] values, DependenceSamplePartial sample, int f, double confidence)
    {
        if (sample.Methods.Length == 0) return null;
        var bins = feature.Categorical ? grid.Length : grid.Length - 1;
        int Bin(float v)
        {
            if (feature.Categorical) return Math.Clamp((int)v, 0, bins - 1);
            for (var k = 1; k < grid.Length; k++)
                if (v <= grid[k]) return k - 1;
            return bins - 1;
        }
        return [.. sample.Methods.Select((method, i) =>
        {
            var (n, sum, squares) = (new long[bins], new double[bins], new double[bins]);
            for (var r = 0; r < values.Length; r++)
            {
                var a = sample.Attributions[((long)r * sample.Methods.Length + i) * sample.Features + f];
                if (float.IsNaN(a)) continue;
                var b = Bin(values[r]);
                (n[b], sum[b], squares[b]) = (n[b] + 1, sum[b] + a, squares[b] + (double)a * a);
            }
            return new DependenceAttribution(method, n.Sum(), [.. Enumerable.Range(0, bins).Select(b => new DependenceBin(
                feature.Categorical ? b : Raw(feature, grid[b]), feature.Categorical ? b : Raw(feature, grid[b + 1]), feature.Categorical ? feature.Levels![b] : null,
                n[b], Intervals.Mean(n[b], sum[b], squares[b], confidence), n[b] < 2 ? 0 : Math.Sqrt(Math.Max(0, (squares[b] - sum[b] * sum[b] / n[b]) / (n[b] - 1)))))]);
        })];
    }

    /// <summary>
    /// First-order ALE (Apley and Zhu 2020, as Alibi computes it): each bin's mean difference (0 for an empty bin) accumulated
    /// from 0 at the first grid value, then centred by subtracting the rows' mean of the accumulated curve, each bin taking
    /// the mean of its two ends.
    /// </summary>
    /// <param name="sums">[bin][class]: Σ (f(z_k) − f(z_{k−1})) over the bin's rows.</param>
    public static double[][] Ale(long[] counts, double[][] sums)
    {
        var classes = sums.Length == 0 ? 0 : sums[0].Length;
        var accumulated = new double[counts.Length + 1][];
        accumulated[0] = new double[classes];
        for (var k = 0; k < counts.Length; k++)
            accumulated[k + 1] = [.. Enumerable.Range(0, classes).Select(c => accumulated[k][c] + (counts[k] == 0 ? 0 : sums[k][c] / counts[k]))];
        var total = counts.Sum();
        var centre = Enumerable.Range(0, classes).Select(c =>
            total == 0 ? 0 : Enumerable.Range(0, counts.Length).Sum(k => counts[k] * (accumulated[k][c] + accumulated[k + 1][c]) / 2) / total).ToArray();
        return [.. accumulated.Select(a => a.Select((v, c) => v - centre[c]).ToArray())];
    }

    /// <summary>
    /// A grid value in the table's units: a standardized feature's (x · std + mean) to float32's precision (the encoded value
    /// is a float32, so digits past it are the encoding's rounding, not the data's), a level's index as it is.
    /// </summary>
    public static double Raw(TableFeature feature, float value) =>
        feature.Encoding == FeatureEncoding.Standardize ? double.Parse(((float)(value * feature.Std + feature.Mean)).ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture) : value;
}

/// <summary>summary.json's <c>dependence</c>, read as its record.</summary>
public static class SummaryDependence
{
    extension(Summary summary)
    {
        /// <summary>Null unless the job asked for <c>dependence</c>.</summary>
        public DependenceSummary? Dependence => summary.Section<DependenceSummary>(DependenceFeature.Instance.Section);
    }
}
