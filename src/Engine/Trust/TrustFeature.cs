using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Trust;

/// <summary>A shard's trust sums: per method, per metric, (n, Σx, Σx²) per target class over the samples the metric evaluated.</summary>
public sealed record TrustPartial(string[] Metrics, TrustMethodSums[] Methods);

/// <param name="Sums">[metric][class].</param>
public sealed record TrustMethodSums(string Method, MomentSums[][] Sums);

/// <summary>
/// The trust metrics (complexity, sensitivity, random-logit, ROAD) per map method: each metric's mean over the samples it
/// evaluated with its normal interval at the job's <c>verdicts.confidence</c>, overall and per target class. summary.json's <c>trust</c>.
/// </summary>
public sealed class TrustFeature : Feature<TrustPartial, TrustFeature.Sums>
{
    public static readonly TrustFeature Instance = new();

    public override string Name => "trust";

    public override string Section => "trust";

    public override TrustPartial? Compute(ShardOutcome s) => s.Result.Trust is { } t ? Partial(t, s.Result.Targets, s.Result.Classes) : null;

    /// <summary>The sums of a shard's per-sample values, in sample order; NaN (not evaluated) left out.</summary>
    public static TrustPartial Partial(TrustResult result, long[] targets, int classes) => new(result.Metrics, [.. result.Methods.Select(m =>
        new TrustMethodSums(m.Method, [.. m.Values.Select(values =>
        {
            var sums = new MomentSums[classes];
            for (var i = 0; i < targets.Length; i++)
                if (!double.IsNaN(values[i])) sums[targets[i]] = sums[targets[i]].Add(values[i]);
            return sums;
        })]))]);

    public override void Write(BinaryWriter w, TrustPartial p)
    {
        w.Write(p.Metrics.Length);
        foreach (var metric in p.Metrics) w.Write(metric);
        w.Write(p.Methods.Length);
        foreach (var m in p.Methods)
        {
            w.Write(m.Method);
            foreach (var sums in m.Sums) WriteArray(w, sums);
        }
    }

    public override TrustPartial Read(BinaryReader r)
    {
        var metrics = new string[r.ReadInt32()];
        for (var k = 0; k < metrics.Length; k++) metrics[k] = r.ReadString();
        var methods = new TrustMethodSums[r.ReadInt32()];
        for (var i = 0; i < methods.Length; i++) methods[i] = new TrustMethodSums(r.ReadString(), [.. metrics.Select(_ => ReadArray<MomentSums>(r))]);
        return new TrustPartial(metrics, methods);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(TrustFeature feature) : FeatureSums<TrustPartial>(feature.Decode)
    {
        private TrustPartial? _total;

        public override void Fold(TrustPartial partial)
        {
            _total ??= new TrustPartial(partial.Metrics, [.. partial.Methods.Select(m => new TrustMethodSums(m.Method, [.. m.Sums.Select(s => new MomentSums[s.Length])]))]);
            if (!partial.Metrics.SequenceEqual(_total.Metrics) || !partial.Methods.Select(m => m.Method).SequenceEqual(_total.Methods.Select(m => m.Method)))
                throw new ArgumentException("trust partials of different methods or metrics", nameof(partial));
            foreach (var (total, part) in _total.Methods.Zip(partial.Methods))
                for (var k = 0; k < total.Sums.Length; k++)
                    for (var c = 0; c < total.Sums[k].Length; c++) total.Sums[k][c] = total.Sums[k][c].Add(part.Sums[k][c]);
        }

        public override object? Summarise(SummaryDraft draft) => _total is null ? null : Summary(_total, draft.Names, draft.Settings.Confidence);
    }

    /// <summary>summary.json's <c>trust</c> from the folded sums.</summary>
    public static TrustSummary Summary(TrustPartial total, string[] classNames, double confidence) => new(total.Metrics,
        new Dictionary<string, Dictionary<string, TrustMetric>>(total.Methods.Select(m => KeyValuePair.Create(m.Method,
            new Dictionary<string, TrustMetric>(total.Metrics.Select((metric, k) =>
            {
                var perClass = m.Sums[k];
                var all = perClass.Aggregate(default(MomentSums), (a, b) => a.Add(b));
                return KeyValuePair.Create(metric, new TrustMetric(Intervals.Mean(all.Count, all.Sum, all.Squares, confidence),
                    [.. Enumerable.Range(0, perClass.Length).Where(c => perClass[c].Count > 0).Select(c =>
                        new TrustClass(c, classNames[c], Intervals.Mean(perClass[c].Count, perClass[c].Sum, perClass[c].Squares, confidence)))]));
            }), StringComparer.Ordinal))), StringComparer.Ordinal));
}

/// <summary>
/// summary.json's <c>trust</c>: the metrics computed (<see cref="Metrics"/>, in column order) and per method, per metric, its
/// mean with interval and n (the samples it evaluated: every sample the method explained for complexity, the trust
/// subset's for the others) overall and per target class.
/// </summary>
public sealed record TrustSummary(string[] Metrics, Dictionary<string, Dictionary<string, TrustMetric>> Methods);

public sealed record TrustMetric(Estimate Mean, TrustClass[] PerClass);

public sealed record TrustClass(int Class, string Name, Estimate Mean);

/// <summary>summary.json's <c>trust</c>, read as its record.</summary>
public static class SummaryTrust
{
    extension(Summary summary)
    {
        /// <summary>Null when the job did not ask for trust metrics.</summary>
        public TrustSummary? Trust => summary.Section<TrustSummary>(TrustFeature.Instance.Section);
    }
}
