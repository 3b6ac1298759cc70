using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Tabular;

/// <summary>
/// One method's sums over a shard's rows, per feature: the rows it explained, Σa, Σ|a| and Σa²; and per target class (class
/// major, [classes × features]) the rows, Σ|a| and Σa².
/// </summary>
public sealed record FeatureSums(string Method, long Count, double[] Sum, double[] AbsSum, double[] Squares, long[] ClassCount, double[] ClassAbs, double[] ClassSquares);

/// <summary>A table job's per-feature sums of each method's attributions over one shard.</summary>
public sealed record FeatureImportancePartial(string[] Features, FeatureSums[] Methods);

/// <summary>summary.json's <c>features</c>: each method's mean attribution and mean |attribution| per feature, with its interval.</summary>
public sealed record FeatureImportanceSummary(string[] Features, double Confidence, MethodFeatureImportance[] Methods);

/// <param name="Features">In the table's feature order.</param>
/// <param name="PerClass">Per target class (the class each row was explained for), in class order.</param>
public sealed record MethodFeatureImportance(string Method, long Samples, FeatureImportance[] Features, ClassFeatureImportance[] PerClass);

/// <summary>The mean |attribution| per feature (table order) over the rows explained for one class.</summary>
public sealed record ClassFeatureImportance(int Class, string Name, long Samples, Estimate[] MeanAbs);

/// <param name="MeanAbs">Mean |attribution| with its normal interval at the summary's confidence.</param>
public sealed record FeatureImportance(string Feature, double MeanAttribution, Estimate MeanAbs);

/// <summary>
/// Global feature importance of a table job: per method and feature, Σa, Σ|a| and Σa² over every sample the method
/// explained (one-hot groups already summed back into their column), folded in shard order.
/// </summary>
public sealed class FeatureImportanceFeature : Feature<FeatureImportancePartial, FeatureImportanceFeature.Sums>
{
    public static readonly FeatureImportanceFeature Instance = new();

    public override string Name => "features";

    public override string Section => "features";

    public override FeatureImportancePartial? Compute(ShardOutcome shard)
    {
        if (shard.Data.Features is not { } features) return null;
        var (f, classes, targets) = (features.Length, shard.Result.Classes, shard.Result.Targets);
        var methods = shard.Result.Methods.Where(m => m.MapShape.SequenceEqual([f])).Select(m =>
        {
            var (rows, sum, abs, squares) = (m.RowCount(shard.Result.Count), new double[f], new double[f], new double[f]);
            var (classCount, classAbs, classSquares) = (new long[classes], new double[classes * f], new double[classes * f]);
            for (var i = 0; i < rows; i++)
            {
                var c = (int)targets[m.Rows?[i] ?? i];
                classCount[c]++;
                for (var j = 0; j < f; j++)
                {
                    double a = m.Maps[i * f + j];
                    sum[j] += a;
                    abs[j] += Math.Abs(a);
                    squares[j] += a * a;
                    classAbs[c * f + j] += Math.Abs(a);
                    classSquares[c * f + j] += a * a;
                }
            }
            return new FeatureSums(m.Name, rows, sum, abs, squares, classCount, classAbs, classSquares);
        }).ToArray();
        return new FeatureImportancePartial(features, methods);
    }

    public override void Write(BinaryWriter w, FeatureImportancePartial p)
    {
        w.Write(p.Features.Length);
        foreach (var name in p.Features) w.Write(name);
        w.Write(p.Methods.Length);
        foreach (var m in p.Methods)
        {
            w.Write(m.Method);
            w.Write(m.Count);
            WriteArray(w, m.Sum);
            WriteArray(w, m.AbsSum);
            WriteArray(w, m.Squares);
            WriteArray(w, m.ClassCount);
            WriteArray(w, m.ClassAbs);
            WriteArray(w, m.ClassSquares);
        }
    }

    public override FeatureImportancePartial Read(BinaryReader r)
    {
        var features = new string[r.ReadInt32()];
        for (var i = 0; i < features.Length; i++) features[i] = r.ReadString();
        var methods = new FeatureSums[r.ReadInt32()];
        for (var i = 0; i < methods.Length; i++)
            methods[i] = new FeatureSums(r.ReadString(), r.ReadInt64(), ReadArray<double>(r), ReadArray<double>(r), ReadArray<double>(r),
                ReadArray<long>(r), ReadArray<double>(r), ReadArray<double>(r));
        return new FeatureImportancePartial(features, methods);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(FeatureImportanceFeature feature) : FeatureSums<FeatureImportancePartial>(feature.Decode)
    {
        private string[]? _features;
        private readonly List<FeatureSums> _methods = [];

        /// <summary>Each method's sums so far, in the order the shards gave them.</summary>
        public IReadOnlyList<FeatureSums> Methods => _methods;

        public override void Fold(FeatureImportancePartial partial)
        {
            _features ??= partial.Features;
            foreach (var m in partial.Methods)
            {
                var at = _methods.FindIndex(x => x.Method == m.Method);
                if (at < 0)
                {
                    _methods.Add(m with { Sum = [.. m.Sum], AbsSum = [.. m.AbsSum], Squares = [.. m.Squares], ClassCount = [.. m.ClassCount], ClassAbs = [.. m.ClassAbs], ClassSquares = [.. m.ClassSquares] });
                    continue;
                }
                var total = _methods[at];
                Totals.Add(total.Sum, m.Sum);
                Totals.Add(total.AbsSum, m.AbsSum);
                Totals.Add(total.Squares, m.Squares);
                for (var c = 0; c < m.ClassCount.Length; c++) total.ClassCount[c] += m.ClassCount[c];
                Totals.Add(total.ClassAbs, m.ClassAbs);
                Totals.Add(total.ClassSquares, m.ClassSquares);
                _methods[at] = total with { Count = total.Count + m.Count };
            }
        }

        public override object? Summarise(SummaryDraft draft)
        {
            if (_features is null) return null;
            var confidence = draft.Settings.Confidence;
            var f = _features.Length;
            return new FeatureImportanceSummary(_features, confidence, [.. _methods.Select(m => new MethodFeatureImportance(m.Method, m.Count,
                [.. _features.Select((name, j) => new FeatureImportance(name, m.Count == 0 ? 0 : m.Sum[j] / m.Count,
                    Intervals.Mean(m.Count, m.AbsSum[j], m.Squares[j], confidence)))],
                [.. m.ClassCount.Select((n, c) => new ClassFeatureImportance(c, draft.Names[c], n,
                    [.. Enumerable.Range(0, f).Select(j => Intervals.Mean(n, m.ClassAbs[c * f + j], m.ClassSquares[c * f + j], confidence))]))]))]);
        }
    }
}

/// <summary>summary.json's <c>features</c>, read as its record.</summary>
public static class SummaryFeatureImportance
{
    extension(Summary summary)
    {
        /// <summary>Null unless the job explained a table.</summary>
        public FeatureImportanceSummary? FeatureImportance => summary.Section<FeatureImportanceSummary>(FeatureImportanceFeature.Instance.Section);
    }
}
