using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Verdicts;

/// <summary>
/// Per map method, the paired differences of each sample's faithfulness AUCs from the random ordering's on the same
/// sample (deletion: method − random, lower is better; insertion: method − random, higher is better) as n, Σd, Σd² per
/// stratum (target class × correct, <see cref="SampleSelection.Stratum"/>), and how many samples of the shard each
/// stratum has, so that a method evaluated on a stratified subset is reweighted to the dataset's strata.
/// </summary>
public sealed record VerdictPartial(long[] Strata, PairedSums[] Methods);

/// <summary>One method's paired sums over a shard's samples, per stratum.</summary>
public sealed record PairedSums(string Method, MomentSums[] Deletion, MomentSums[] Insertion)
{
    public long Count => Deletion.Sum(s => s.Count);
}

/// <summary>
/// Whether each method's maps can be trusted: faithful (deletion and insertion both better than random by more than the
/// job's <c>verdicts.minDifference</c>, paired, at its <c>verdicts.confidence</c>), not faithful (either worse than random
/// beyond its interval), or inconclusive; and whether it passed the sanity check (<c>verdicts.sanityMaxSimilarity</c>).
/// A method evaluated on part of the dataset (lime's, kernel-shap's subset) is reweighted to the dataset's strata.
/// summary.json's <c>verdicts</c>.
/// </summary>
public sealed class VerdictsFeature : Feature<VerdictPartial, VerdictsFeature.Sums>
{
    public static readonly VerdictsFeature Instance = new();

    public override string Name => "verdicts";

    public override string Section => "verdicts";

    public override VerdictPartial? Compute(ShardOutcome s)
    {
        if (s.Result.Faithfulness is not { } f || f.Orderings.FirstOrDefault(o => o.Method == FaithfulnessSpec.Random) is not { } random) return null;
        var r = s.Result;
        var strata = new long[2 * r.Classes];
        var stratum = new int[r.Count];
        for (var i = 0; i < r.Count; i++) strata[stratum[i] = SampleSelection.Stratum(r.Targets[i], r.Labels is { } l && l[i] == r.Predictions[i])]++;
        return new VerdictPartial(strata, [.. f.Orderings.Where(o => o.Method != FaithfulnessSpec.Random).Select(o =>
        {
            var (deletion, insertion) = (new MomentSums[strata.Length], new MomentSums[strata.Length]);
            for (var i = 0; i < o.DeletionAuc.Length; i++)
            {
                if (double.IsNaN(o.DeletionAuc[i])) continue; // outside the method's subset
                var h = stratum[i];
                deletion[h] = deletion[h].Add(o.DeletionAuc[i] - random.DeletionAuc[i]);
                insertion[h] = insertion[h].Add(o.InsertionAuc[i] - random.InsertionAuc[i]);
            }
            return new PairedSums(o.Method, deletion, insertion);
        })]);
    }

    public override void Write(BinaryWriter w, VerdictPartial p)
    {
        WriteArray(w, p.Strata);
        w.Write(p.Methods.Length);
        foreach (var m in p.Methods)
        {
            w.Write(m.Method);
            WriteArray(w, m.Deletion);
            WriteArray(w, m.Insertion);
        }
    }

    public override VerdictPartial Read(BinaryReader r)
    {
        var strata = ReadArray<long>(r);
        var methods = new PairedSums[r.ReadInt32()];
        for (var i = 0; i < methods.Length; i++) methods[i] = new PairedSums(r.ReadString(), ReadArray<MomentSums>(r), ReadArray<MomentSums>(r));
        return new VerdictPartial(strata, methods);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(VerdictsFeature feature) : FeatureSums<VerdictPartial>(feature.Decode)
    {
        private long[]? _strata;
        private PairedSums[]? _total;

        public override void Fold(VerdictPartial partial)
        {
            // Every shard evaluates the same methods in the same order (the job's map methods).
            _strata ??= new long[partial.Strata.Length];
            _total ??= [.. partial.Methods.Select(m => new PairedSums(m.Method, new MomentSums[_strata.Length], new MomentSums[_strata.Length]))];
            if (!partial.Methods.Select(m => m.Method).SequenceEqual(_total.Select(t => t.Method)) || partial.Strata.Length != _strata.Length)
                throw new ArgumentException("verdict partials of different methods", nameof(partial));
            Totals.Add(_strata, partial.Strata);
            foreach (var (t, m) in _total.Zip(partial.Methods))
                for (var h = 0; h < _strata.Length; h++)
                    (t.Deletion[h], t.Insertion[h]) = (t.Deletion[h].Add(m.Deletion[h]), t.Insertion[h].Add(m.Insertion[h]));
        }

        public override object? Summarise(SummaryDraft draft)
        {
            if (_total is null || _strata is null) return null;
            var rules = draft.Settings.Verdicts;
            var sanity = draft.Sums<SanityFeature.Sums>()?.Result(draft);
            var trust = draft.Sums<Trust.TrustFeature.Sums>()?.Summarise(draft) as Trust.TrustSummary;
            var samples = _strata.Sum();
            return new VerdictsSummary(rules.Confidence, new Dictionary<string, MethodVerdict>(_total.Select(m =>
            {
                // A method over every sample is the dataset's mean; one over a subset is reweighted to the dataset's strata.
                var reweighted = m.Count < samples;
                Interval Of(MomentSums[] strata) => Interval.From(reweighted ? Intervals.Reweighted(strata, _strata, rules.Confidence)
                    : Total(strata) is var all ? Intervals.Mean(all.Count, all.Sum, all.Squares, rules.Confidence) : Estimate.None);
                var (deletion, insertion) = (Of(m.Deletion), Of(m.Insertion));
                var check = sanity?.Methods.GetValueOrDefault(m.Method) is { Spearman.Length: > 0 } s ? (s.Insensitive ? SanityFailed : SanityPassed) : null;
                var metrics = trust?.Methods.GetValueOrDefault(m.Method);
                var road = metrics?.GetValueOrDefault(Trust.TrustMetrics.Road) is { } r ? Interval.From(r.Mean) : null;
                return KeyValuePair.Create(m.Method, new MethodVerdict(Judge(deletion, insertion, rules.MinDifference), deletion, insertion, check, reweighted,
                    metrics?.GetValueOrDefault(Trust.TrustMetrics.MaxSensitivity)?.Mean.Value is { } sensitivity ? (sensitivity <= rules.MaxSensitivity ? Robust : Sensitive) : null,
                    metrics?.GetValueOrDefault(Trust.TrustMetrics.RandomLogit)?.Mean.Value is { } l ? (l <= rules.RandomLogitMaxSimilarity ? SanityPassed : SanityFailed) : null,
                    road is null ? null : JudgeRoad(road, rules.MinDifference), road));
            }), StringComparer.Ordinal), rules.MinDifference, rules.SanityMaxSimilarity, samples, rules.MaxSensitivity, rules.RandomLogitMaxSimilarity);
        }

        private static MomentSums Total(MomentSums[] strata) => strata.Aggregate(default(MomentSums), (a, b) => a.Add(b));
    }

    /// <summary>
    /// Faithful: deletion's interval wholly below −<paramref name="minDifference"/> and insertion's wholly above it; not
    /// faithful: either wholly on the wrong side of zero (worse than random); otherwise, or without intervals, inconclusive.
    /// </summary>
    public static string Judge(Interval deletion, Interval insertion, double minDifference) =>
        deletion.High < -minDifference && insertion.Low > minDifference ? Faithful
            : deletion.Low > 0 || insertion.High < 0 ? NotFaithful : Inconclusive;

    /// <summary>
    /// ROAD: faithful when the mean of (LeRF − MoRF)/2 lies above <paramref name="minDifference"/> beyond its interval (keeping the
    /// least relevant pixels holds the class better than keeping the most relevant), not faithful when below 0 beyond it.
    /// </summary>
    public static string JudgeRoad(Interval road, double minDifference) =>
        road.Low > minDifference ? Faithful : road.High < 0 ? NotFaithful : Inconclusive;

    public const string Robust = "robust";
    public const string Sensitive = "sensitive";
    public const string Faithful = "faithful";
    public const string NotFaithful = "not faithful";
    public const string Inconclusive = "inconclusive";
    public const string SanityPassed = "passed";
    public const string SanityFailed = "failed";
}

/// <summary>
/// summary.json's <c>verdicts</c>: the rules (<see cref="Confidence"/>, <see cref="MinDifference"/>,
/// <see cref="SanityMaxSimilarity"/>, from the job's <c>verdicts</c>) and per map method its faithfulness verdict with the
/// paired differences' intervals, and its sanity result; <see cref="Samples"/> is the dataset's.
/// </summary>
public sealed record VerdictsSummary(double Confidence, Dictionary<string, MethodVerdict> Methods, double MinDifference, double SanityMaxSimilarity, long Samples,
    double MaxSensitivity = VerdictsSpec.DefaultMaxSensitivity, double RandomLogitMaxSimilarity = VerdictsSpec.DefaultRandomLogitMaxSimilarity);

/// <param name="Faithfulness">"faithful", "not faithful" or "inconclusive".</param>
/// <param name="Deletion">Mean of (method − random) deletion AUC per sample, with its interval: below 0 is better than random.</param>
/// <param name="Insertion">Mean of (method − random) insertion AUC per sample, with its interval: above 0 is better than random.</param>
/// <param name="Sanity">"passed" or "failed" when the sanity check ran on the method; null when it did not.</param>
/// <param name="Reweighted">Whether the method explained a subset, whose strata (target class × correct) were reweighted to the dataset's.</param>
/// <param name="Robustness">With the trust metrics' sensitivity: "robust" (mean max-sensitivity at most <c>verdicts.maxSensitivity</c>) or "sensitive"; null without.</param>
/// <param name="RandomLogit">With random-logit: "passed" (mean SSIM to another class's map at most <c>verdicts.randomLogitMaxSimilarity</c>) or "failed"; null without.</param>
/// <param name="Road">With ROAD: "faithful", "not faithful" or "inconclusive" (<see cref="VerdictsFeature.JudgeRoad"/>); null without.</param>
/// <param name="RoadGain">ROAD's mean (LeRF − MoRF)/2 over the trust subset, with its interval.</param>
public sealed record MethodVerdict(string Faithfulness, Interval Deletion, Interval Insertion, string? Sanity, bool Reweighted,
    string? Robustness = null, string? RandomLogit = null, string? Road = null, Interval? RoadGain = null);

/// <summary>A mean over n paired samples and its normal interval (sample standard deviation; no bounds for n &lt; 2).</summary>
public sealed record Interval(long Count, double? Mean, double? Low, double? High)
{
    public static Interval From(Estimate e) => new(e.N, e.Value, e.Low, e.High);
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
