using System.Globalization;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// Compares two completed runs: their predictions and, on the same inputs, their explanations sample by sample. Samples are
/// read in index order and every sum is folded in that order, so the comparison is the same however either run was sharded.
/// </summary>
/// <param name="host">Where both models run for the representation's CKA; without one the comparison reads outputs only.</param>
public sealed class Comparer(BlobLocator locator, Models.ModelHost? host = null)
{
    /// <summary>The samples listed as most changed, per method.</summary>
    public const int MostChanged = 8;

    /// <param name="candidateFinishing">The candidate is the job now completing (its manifest still says running, its files are all in place).</param>
    public async Task<Comparison> CompareAsync(string baseline, string candidate, CompareGate? gate = null, bool candidateFinishing = false, CancellationToken ct = default)
    {
        var (a, b) = await OpenAsync(locator, baseline, candidate, candidateFinishing, ct);
        var same = SameInputs(a, b);
        var representation = same && host is not null ? new RepresentationComparison(host, locator) : null;
        // The parts the job's compare pass makes on its silos, folded in the same order.
        ComparePart? total = null;
        foreach (var range in ComparePart.Ranges(b.Manifest.Samples))
            total = ComparePart.Fold(total, await ComparePart.ComputeAsync(a, b, same, range.Start, range.Count, representation, ct));
        return await BuildAsync(a, b, total!, gate, ct);
    }

    /// <summary>Both runs' outputs, the baseline completed and the candidate completed or (<paramref name="candidateFinishing"/>) in place.</summary>
    public static async Task<(RunOutputs A, RunOutputs B)> OpenAsync(BlobLocator locator, string baseline, string candidate, bool candidateFinishing, CancellationToken ct) =>
        (await RunOutputs.OpenAsync(locator, baseline, "baseline", ct), await RunOutputs.OpenAsync(locator, candidate, "candidate", ct, candidateFinishing));

    /// <summary>
    /// Whether the two runs explained the same inputs, so samples pair up by dataset index: their data hashes and sample counts
    /// are equal; or, when either skipped unreadable images (whose bytes the hash covers, so a repaired image changes it), the
    /// same inputs location with as many samples.
    /// </summary>
    public static bool SameInputs(RunOutputs a, RunOutputs b) =>
        a.Manifest.Samples == b.Manifest.Samples && (a.Manifest.InputsSha256 is { } ha && ha == b.Manifest.InputsSha256
            || a.Skipped + b.Skipped > 0 && a.Manifest.Inputs == b.Manifest.Inputs);

    /// <summary>
    /// The comparison from every range's part folded in sample order (<paramref name="ranges"/>), and what the two summaries
    /// hold; on different inputs, with A's own prediction counts (the ranges count B's only).
    /// </summary>
    public static async Task<Comparison> BuildAsync(RunOutputs a, RunOutputs b, ComparePart ranges, CompareGate? gate, CancellationToken ct = default)
    {
        var same = SameInputs(a, b);
        var total = same ? ranges : ComparePart.Fold(await ComparePart.BaselineOnlyAsync(a, ct), ranges);
        var names = a.Summary.Classes;
        var predictions = Predictions(same, total);
        var classes = Classes(same, names, total);
        var methods = new List<MethodChange>();
        foreach (var m in total.Methods) methods.Add(await MethodAsync(m, a, b, names, ct));
        var trust = TrustComparison.Compare(a, b, same, total.Trust);
        var labelErrors = LabelErrorComparison.Compare(a, b, same, names);
        var representation = total.Cka is { } cka && total.Representation is { Missing: null } layers
            ? new RepresentationChange(layers.LayerA, layers.LayerB, cka.Sx.Length, cka.Sy.Length, cka.N, cka.Cka(), null)
            : total.Representation;
        var activations = total.Drift.Count == 0 ? null : total.Drift.Select(d => d.Change(names)).ToArray();
        var drift = Drift(gate, predictions, methods);
        var leftOut = await LeftOutAsync(a, b, ct);
        return new Comparison(Comparison.SchemaName, Ref(a), Ref(b), same,
            Findings(same, leftOut, predictions, classes, methods, trust, labelErrors, representation, activations, drift),
            predictions, classes, [.. methods], drift, trust, labelErrors, representation, activations, leftOut);
    }

    /// <summary>The samples either run skipped as unreadable images; null when neither skipped any.</summary>
    private static async Task<LeftOut?> LeftOutAsync(RunOutputs a, RunOutputs b, CancellationToken ct)
    {
        if (a.Skipped + b.Skipped == 0) return null;
        var (sa, sb) = (await a.SkippedIndicesAsync(ct), await b.SkippedIndicesAsync(ct));
        var both = sa.Intersect(sb).LongCount();
        return new LeftOut(sa.Length + sb.Length - both, sa.Length, sb.Length, both);
    }

    /// <summary>Compares, then writes comparison.json and compare.html (with the most-changed samples drawn) to <paramref name="folder"/>.</summary>
    /// <param name="merged">The job's compare pass's parts, folded in range order; null to compute them here.</param>
    public async Task<Comparison> WriteAsync(IBlob folder, string baseline, string candidate, CompareGate? gate = null, bool candidateFinishing = false,
        ComparePart? merged = null, CancellationToken ct = default)
    {
        Comparison comparison;
        if (merged is null) comparison = await CompareAsync(baseline, candidate, gate, candidateFinishing, ct);
        else
        {
            var (a, b) = await OpenAsync(locator, baseline, candidate, candidateFinishing, ct);
            comparison = await BuildAsync(a, b, merged, gate, ct);
        }
        var figures = await ChangedSampleFigures.DrawAsync(locator, baseline, candidate, comparison, candidateFinishing, ct);
        await ComparisonOutput.WriteAsync(folder, comparison, figures, ct);
        return comparison;
    }

    private static RunRef Ref(RunOutputs run) => new(
        Redaction.Location(run.Folder.Location), run.Manifest.JobId, run.Manifest.Job, run.Manifest.ModelSha256, run.Manifest.InputsSha256, run.Manifest.Finished);

    private static PredictionChange Predictions(bool same, ComparePart t)
    {
        var (rateA, rateB) = (CompareStatistics.Wilson(t.RightA, t.LabelledA), CompareStatistics.Wilson(t.RightB, t.LabelledB));
        if (!same) return new PredictionChange(rateA, rateB, CompareStatistics.Unpaired(rateA, rateB), null, null, null, null, null);
        // Each labelled sample's d = [B right] − [A right] is −1, 0 or 1: Σd and Σd² follow from the counts.
        var (wrong, right) = (t.BecameWrong, t.BecameRight);
        var flips = Enumerable.Range(0, t.K).Select(a => t.Flips[(a * t.K)..((a + 1) * t.K)]).ToArray();
        return new PredictionChange(rateA, rateB, CompareStatistics.Paired(t.LabelledA, right - wrong, right + wrong, -1, 1), wrong, right, t.Changed,
            CompareStatistics.McNemar(wrong, right), flips);
    }

    private static ClassChange[] Classes(bool same, string[] names, ComparePart t) =>
        [.. Enumerable.Range(0, names.Length).Where(c => t.SupportA[c] > 0 || t.SupportB[c] > 0).Select(c =>
        {
            var (ra, rb) = (CompareStatistics.Wilson(t.OkA[c], t.SupportA[c]), CompareStatistics.Wilson(t.OkB[c], t.SupportB[c]));
            var (wrong, right) = (t.ClassWrong[c], t.ClassRight[c]);
            return new ClassChange(c, names[c], t.SupportA[c], ra, rb,
                same ? CompareStatistics.Paired(t.SupportA[c], right - wrong, right + wrong, -1, 1) : CompareStatistics.Unpaired(ra, rb),
                t.PredictedA[c] == 0 ? null : t.OkA[c] / (double)t.PredictedA[c], t.PredictedB[c] == 0 ? null : t.OkB[c] / (double)t.PredictedB[c]);
        }).OrderByDescending(c => Math.Abs(c.Recall.Value)).ThenBy(c => c.Class)];

    private static async Task<MethodChange> MethodAsync(MethodPart m, RunOutputs a, RunOutputs b, string[] names, CancellationToken ct)
    {
        var (spearman, overlap, samples) = (m.Spearman.ToArray(), m.Overlap.ToArray(), m.Samples);
        var changed = Enumerable.Range(0, samples.Count).OrderBy(j => spearman[j]).ThenBy(j => samples[j]).Take(MostChanged).ToArray();
        // The labels and predictions of the few samples listed, read from the parts that hold them.
        var listed = new List<ChangedSample>();
        foreach (var j in changed)
        {
            var ((predA, label), (predB, _)) = (await a.PredictionsAsync(samples[j], 1, ct), await b.PredictionsAsync(samples[j], 1, ct));
            listed.Add(new ChangedSample(samples[j], label[0] >= 0 ? label[0] : null, predA[0], predB[0], spearman[j], overlap[j]));
        }
        var perClass = Enumerable.Range(0, names.Length).Where(c => m.ClassN[c] > 0)
            .Select(c => new ClassAgreement(c, names[c], m.ClassN[c], m.ClassSpearman[c] / m.ClassN[c], m.ClassOverlap[c] / m.ClassN[c])).ToArray();
        return new MethodChange(m.Method, samples.Count, CompareStatistics.Spread(spearman), CompareStatistics.Spread(overlap),
            MapAgreement.Ndcg(m.ImportanceA, m.ImportanceB), perClass, await ClassMeansAsync(m.Method, a, b, names, ct), [.. listed]);
    }

    /// <summary>Pearson's r of A's and B's class-mean map, per target class both have.</summary>
    private static async Task<ClassCorrelation[]> ClassMeansAsync(string method, RunOutputs a, RunOutputs b, string[] names, CancellationToken ct)
    {
        var (sa, sb) = (a.Summary.Methods[method], b.Summary.Methods[method]);
        if (sa.ClassMeans is null || sb.ClassMeans is null) return [];
        var (fa, fb) = (await ArrayFile.OpenAsync(a.Folder.Child(sa.ClassMeans), ct), await ArrayFile.OpenAsync(b.Folder.Child(sb.ClassMeans), ct));
        var rowsB = sb.PerClass.ToDictionary(r => r.Class, r => r.Row);
        var result = new List<ClassCorrelation>();
        foreach (var row in sa.PerClass)
        {
            if (!rowsB.TryGetValue(row.Class, out var rb)) continue;
            var (ma, mb) = (await fa.ReadFloatsAsync(row.Row, 1, ct), await fb.ReadFloatsAsync(rb, 1, ct));
            result.Add(new ClassCorrelation(row.Class, row.Class < names.Length ? names[row.Class] : row.Name, MapAgreement.Pearson(ma, mb)));
        }
        return [.. result];
    }

    /// <summary>The gate's crossed thresholds, one line each.</summary>
    public static string[] Drift(CompareGate? gate, PredictionChange predictions, IReadOnlyList<MethodChange> methods)
    {
        if (gate is null) return [];
        var crossed = new List<string>();
        var drop = predictions.AccuracyA.Value - predictions.AccuracyB.Value;
        if (gate.AccuracyDrop is { } maxDrop && drop > maxDrop)
            crossed.Add(F($"accuracyDrop: accuracy fell by {drop:0.####} ({predictions.AccuracyA.Value:0.####} → {predictions.AccuracyB.Value:0.####}), more than {maxDrop}"));
        foreach (var m in methods)
        {
            if (gate.Ndcg is { } ndcg && m.Ndcg < ndcg) crossed.Add(F($"ndcg: {m.Method}'s nDCG of global importance is {m.Ndcg:0.####}, below {ndcg}"));
            if (gate.MedianMapCorrelation is { } rho && m.Spearman.Median < rho)
                crossed.Add(F($"medianMapCorrelation: {m.Method}'s median map correlation is {m.Spearman.Median:0.####}, below {rho}"));
        }
        return [.. crossed];
    }

    private static string[] Findings(bool same, LeftOut? leftOut, PredictionChange p, ClassChange[] classes, IReadOnlyList<MethodChange> methods, MethodTrust[] trust,
        LabelErrorChange? labelErrors, RepresentationChange? representation, ActivationChange[]? activations, string[] drift)
    {
        var findings = new List<string>();
        if (!same) findings.Add("The two runs explained different inputs (their data hashes or sample counts differ): only dataset-level figures are compared, and their differences are not paired.");
        if (leftOut is { } l) findings.Add(LeftOutFinding(same, l));
        var d = p.Accuracy;
        var test = p.McNemarP is { } mp ? F($"; McNemar p {(mp < 0.001 ? "< 0.001" : $"= {mp:0.###}")}") : "";
        findings.Add(F($"Accuracy went from {Pct(p.AccuracyA.Value)} to {Pct(p.AccuracyB.Value)} ({Points(d.Value)}, 95 % interval {Points(d.Low)} to {Points(d.High)}{test}).") +
            (p.BecameWrong is { } w ? F($" {w} samples became wrong and {p.BecameRight} became right; {p.PredictionChanged} changed their prediction.") : ""));
        if (classes.Length > 0 && classes[0] is { } top && top.Recall.Value != 0)
            findings.Add(F($"The largest change is in {top.Name}: recall {Pct(top.RecallA.Value)} → {Pct(top.RecallB.Value)} ({Points(top.Recall.Value)}, 95 % interval {Points(top.Recall.Low)} to {Points(top.Recall.High)}, n = {top.Support})."));
        foreach (var m in methods)
            findings.Add(F($"{m.Method}: median rank correlation of |map| {m.Spearman.Median:0.00} (10th percentile {m.Spearman.P10:0.00}), top-10 % pixel overlap {m.TopOverlap.Median:0.00}, nDCG of global importance {m.Ndcg:0.000}, over {m.Samples} samples."));
        foreach (var t in trust) if (TrustFinding(t) is { } sentence) findings.Add(sentence);
        if (labelErrors is { } le)
            findings.Add(le.Shared == 0
                ? F($"No label-error candidate persists: none of A's {le.CountA} largest param-grad norms is among B's {le.CountB}.")
                : F($"{le.Shared} of A's {le.CountA} label-error candidates (largest param-grad norms) are still among B's {le.CountB}: ") +
                  string.Join(", ", le.Persisting.Select(c => F($"sample {c.Index}") + (c.LabelName is { } n ? $" ({n})" : ""))) + ".");
        if (representation is { LinearCka: { } cka } r)
            findings.Add(F($"Representation: linear CKA {cka:0.000} between A's features at layer {r.LayerA} ({r.FeaturesA}) and B's at layer {r.LayerB} ({r.FeaturesB}), over {r.Samples} samples (1 = the same up to rotation and scale)."));
        else if (representation?.Missing is { } why) findings.Add($"Representation: not compared ({why}).");
        if (activations?.SelectMany(l => l.Classes.Where(c => !double.IsNaN(c.RelativeChange)).Select(c => (Layer: l, Class: c)))
                .OrderByDescending(x => x.Class.RelativeChange).FirstOrDefault() is { Layer: { } layer } most)
            findings.Add(most.Class.RelativeChange == 0
                ? F($"Activations: no class's mean activations moved at any of the {activations.Length} layers both models share.")
                : F($"Activations: of the {activations.Length} layers both models share, the largest change of a class's mean activations is {most.Class.Name}'s at layer {layer.Layer}: {most.Class.RelativeChange:0.00} of its norm (cosine {most.Class.Cosine:0.000}, n = {most.Class.N})."));
        findings.Add(drift.Length == 0 ? "No drift threshold was crossed." : $"Drift: {string.Join("; ", drift)}.");
        return [.. findings];
    }

    /// <summary>The samples left out as unreadable images, in one sentence: the line compare.html and the report's comparison give.</summary>
    public static string LeftOutFinding(bool same, LeftOut l) => same
        ? F($"{l.Samples} {(l.Samples == 1 ? "sample was" : "samples were")} left out of the paired comparison as unreadable images (\"onBadSample\": \"skip\"): {l.SkippedA} skipped in A, {l.SkippedB} in B ({l.SkippedBoth} in both); every paired figure is over the samples both runs explained.")
        : F($"Unreadable images skipped (\"onBadSample\": \"skip\"): {l.SkippedA} in A and {l.SkippedB} in B, each left out of its own run's figures.");

    /// <summary>A method's change of trust in a sentence: the verdicts that changed first, then the AUC deltas.</summary>
    private static string? TrustFinding(MethodTrust t)
    {
        var parts = new List<string>();
        if (t.FaithfulnessA is { } fa && t.FaithfulnessB is { } fb && fa != fb) parts.Add($"its faithfulness verdict went from {fa} to {fb}");
        if (t.SanityA is { } sa && t.SanityB is { } sb && sa.Verdict != sb.Verdict)
            parts.Add(F($"its sanity check went from {sa.Verdict} to {sb.Verdict} (correlation after randomisation {sa.Correlation:0.00} → {sb.Correlation:0.00})"));
        if (t.Faithfulness is { } f)
            parts.Add(F($"deletion AUC {Delta(f.Deletion)} and insertion AUC {Delta(f.Insertion)} ({(f.Paired ? "paired per sample" : "unpaired")}, n = {f.Deletion.N})"));
        return parts.Count == 0 ? null : $"{t.Method}: {string.Join("; ", parts)}.";
    }

    private static string Delta(Difference d) => F($"{(d.Value >= 0 ? "+" : "−")}{Math.Abs(d.Value):0.000} (95 % interval {d.Low:0.000} to {d.High:0.000})");

    private static string Pct(double v) => F($"{100 * v:0.0} %");

    private static string Points(double v) => F($"{(v >= 0 ? "+" : "−")}{Math.Abs(100 * v):0.0} points");

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
