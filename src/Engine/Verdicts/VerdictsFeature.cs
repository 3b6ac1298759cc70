using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Verdicts;

/// <summary>
/// Per map method, the paired differences of each sample's faithfulness AUCs from the random ordering's on the same
/// sample (deletion: method − random, lower is better; insertion: method − random, higher is better) as n, Σd, Σd².
/// </summary>
public sealed record VerdictPartial(PairedSums[] Methods);

/// <summary>One method's paired sums over a shard's samples.</summary>
public sealed record PairedSums(string Method, long Count, double DeletionSum, double DeletionSquares, double InsertionSum, double InsertionSquares);

/// <summary>
/// Whether each method's maps can be trusted: faithful (deletion and insertion both better than random, paired, at
/// 95 %), not faithful (either worse than random at 95 %), or inconclusive; and whether it passed the sanity check.
/// summary.json's <c>verdicts</c> (issue 16's first statistic, built on the feature contract).
/// </summary>
public sealed class VerdictsFeature : Feature<VerdictPartial, VerdictsFeature.Sums>
{
    public static readonly VerdictsFeature Instance = new();

    /// <summary>The two-sided 95 % normal quantile.</summary>
    public const double Z95 = 1.959963984540054;

    public override string Name => "verdicts";

    public override string Section => "verdicts";

    public override VerdictPartial? Compute(ShardOutcome s)
    {
        if (s.Result.Faithfulness is not { } f || f.Orderings.FirstOrDefault(o => o.Method == FaithfulnessSpec.Random) is not { } random) return null;
        return new VerdictPartial([.. f.Orderings.Where(o => o.Method != FaithfulnessSpec.Random).Select(o =>
        {
            double ds = 0, dq = 0, es = 0, eq = 0;
            for (var i = 0; i < o.DeletionAuc.Length; i++)
            {
                var (d, e) = (o.DeletionAuc[i] - random.DeletionAuc[i], o.InsertionAuc[i] - random.InsertionAuc[i]);
                (ds, dq, es, eq) = (ds + d, dq + d * d, es + e, eq + e * e);
            }
            return new PairedSums(o.Method, o.DeletionAuc.Length, ds, dq, es, eq);
        })]);
    }

    public override void Write(BinaryWriter w, VerdictPartial p)
    {
        w.Write(p.Methods.Length);
        foreach (var m in p.Methods)
        {
            w.Write(m.Method);
            w.Write(m.Count);
            foreach (var v in new[] { m.DeletionSum, m.DeletionSquares, m.InsertionSum, m.InsertionSquares }) w.Write(v);
        }
    }

    public override VerdictPartial Read(BinaryReader r)
    {
        var methods = new PairedSums[r.ReadInt32()];
        for (var i = 0; i < methods.Length; i++)
            methods[i] = new PairedSums(r.ReadString(), r.ReadInt64(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble());
        return new VerdictPartial(methods);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(VerdictsFeature feature) : FeatureSums<VerdictPartial>(feature.Decode)
    {
        private PairedSums[]? _total;

        public override void Fold(VerdictPartial partial)
        {
            // Every shard evaluates the same methods in the same order (the job's map methods).
            _total ??= [.. partial.Methods.Select(m => new PairedSums(m.Method, 0, 0, 0, 0, 0))];
            if (!partial.Methods.Select(m => m.Method).SequenceEqual(_total.Select(t => t.Method)))
                throw new ArgumentException("verdict partials of different methods", nameof(partial));
            _total = [.. _total.Zip(partial.Methods, (t, m) => new PairedSums(t.Method, t.Count + m.Count, t.DeletionSum + m.DeletionSum,
                t.DeletionSquares + m.DeletionSquares, t.InsertionSum + m.InsertionSum, t.InsertionSquares + m.InsertionSquares))];
        }

        public override object? Summarise(SummaryDraft draft)
        {
            if (_total is null) return null;
            var sanity = draft.Sums<SanityFeature.Sums>()?.Result;
            return new VerdictsSummary(0.95, new Dictionary<string, MethodVerdict>(_total.Select(m =>
            {
                var deletion = Interval.Of(m.Count, m.DeletionSum, m.DeletionSquares);
                var insertion = Interval.Of(m.Count, m.InsertionSum, m.InsertionSquares);
                var verdict = deletion.High < 0 && insertion.Low > 0 ? Faithful
                    : deletion.Low > 0 || insertion.High < 0 ? NotFaithful : Inconclusive;
                var check = sanity?.Methods.GetValueOrDefault(m.Method) is { } s ? (s.Insensitive ? SanityFailed : SanityPassed) : null;
                return KeyValuePair.Create(m.Method, new MethodVerdict(verdict, deletion, insertion, check));
            }), StringComparer.Ordinal));
        }
    }

    public const string Faithful = "faithful";
    public const string NotFaithful = "not faithful";
    public const string Inconclusive = "inconclusive";
    public const string SanityPassed = "passed";
    public const string SanityFailed = "failed";
}

/// <summary>summary.json's <c>verdicts</c>: per map method, its faithfulness verdict with the paired differences' intervals, and its sanity result.</summary>
public sealed record VerdictsSummary(double Confidence, Dictionary<string, MethodVerdict> Methods);

/// <param name="Faithfulness">"faithful", "not faithful" or "inconclusive".</param>
/// <param name="Deletion">Mean of (method − random) deletion AUC per sample, with its interval: below 0 is better than random.</param>
/// <param name="Insertion">Mean of (method − random) insertion AUC per sample, with its interval: above 0 is better than random.</param>
/// <param name="Sanity">"passed" or "failed" when the sanity check ran on the method; null when it did not.</param>
public sealed record MethodVerdict(string Faithfulness, Interval Deletion, Interval Insertion, string? Sanity);

/// <summary>A mean over n paired samples and its 95 % normal interval (sample standard deviation; no bounds for n &lt; 2).</summary>
public sealed record Interval(long Count, double? Mean, double? Low, double? High)
{
    public static Interval Of(long n, double sum, double squares)
    {
        if (n == 0) return new Interval(0, null, null, null);
        var mean = sum / n;
        if (n < 2) return new Interval(n, mean, null, null);
        var variance = Math.Max(0, (squares - n * mean * mean) / (n - 1));
        var half = VerdictsFeature.Z95 * Math.Sqrt(variance / n);
        return new Interval(n, mean, mean - half, mean + half);
    }
}

/// <summary>summary.json's <c>verdicts</c>, read as its record.</summary>
public static class SummaryVerdicts
{
    extension(Summary summary)
    {
        /// <summary>Null when the job did not ask for faithfulness.</summary>
        public VerdictsSummary? Verdicts => summary.Section<VerdictsSummary>(VerdictsFeature.Instance.Section);
    }
}
