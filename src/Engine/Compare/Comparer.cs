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
        var a = await RunOutputs.OpenAsync(locator, baseline, "baseline", ct);
        var b = await RunOutputs.OpenAsync(locator, candidate, "candidate", ct, candidateFinishing);
        var same = a.Manifest.InputsSha256 is { } ha && ha == b.Manifest.InputsSha256 && a.Manifest.Samples == b.Manifest.Samples;
        var names = a.Summary.Classes;
        var (predA, labelA) = await a.PredictionsAsync(ct);
        var (predB, labelB) = await b.PredictionsAsync(ct);
        var predictions = Predictions(same, names.Length, predA, labelA, predB, labelB);
        var classes = Classes(same, names, predA, labelA, predB, labelB);
        var methods = new List<MethodChange>();
        if (same)
            foreach (var method in a.Summary.Methods.Keys.Where(m => b.Summary.Methods.ContainsKey(m)).Order(StringComparer.Ordinal))
            {
                var (sa, sb) = (a.Summary.Methods[method], b.Summary.Methods[method]);
                if (sa.MapShape.Length < 2 || !sa.MapShape.SequenceEqual(sb.MapShape)) continue; // over pixels, and drawn alike
                methods.Add(await MethodAsync(method, a, b, names, labelA, predA, predB, ct));
            }
        var trust = await TrustComparison.CompareAsync(a, b, same, ct);
        var labelErrors = LabelErrorComparison.Compare(a, b, same, names);
        var representation = same && host is not null ? await new RepresentationComparison(host, locator).CompareAsync(a, b, ct) : null;
        var drift = Drift(gate, predictions, methods);
        return new Comparison(Comparison.SchemaName, Ref(a), Ref(b), same, Findings(same, predictions, classes, methods, trust, labelErrors, representation, drift),
            predictions, classes, [.. methods], drift, trust, labelErrors, representation);
    }

    /// <summary>Compares, then writes comparison.json and compare.html (with the most-changed samples drawn) to <paramref name="folder"/>.</summary>
    public async Task<Comparison> WriteAsync(IBlob folder, string baseline, string candidate, CompareGate? gate = null, bool candidateFinishing = false, CancellationToken ct = default)
    {
        var comparison = await CompareAsync(baseline, candidate, gate, candidateFinishing, ct);
        var figures = await ChangedSampleFigures.DrawAsync(locator, baseline, candidate, comparison, candidateFinishing, ct);
        await ComparisonOutput.WriteAsync(folder, comparison, figures, ct);
        return comparison;
    }

    private static RunRef Ref(RunOutputs run) => new(
        Redaction.Location(run.Folder.Location), run.Manifest.JobId, run.Manifest.Job, run.Manifest.ModelSha256, run.Manifest.InputsSha256, run.Manifest.Finished);

    private static PredictionChange Predictions(bool same, int k, int[] predA, int[] labelA, int[] predB, int[] labelB)
    {
        long nA = 0, okA = 0, nB = 0, okB = 0;
        for (var i = 0; i < labelA.Length; i++) if (labelA[i] >= 0) { nA++; if (predA[i] == labelA[i]) okA++; }
        for (var i = 0; i < labelB.Length; i++) if (labelB[i] >= 0) { nB++; if (predB[i] == labelB[i]) okB++; }
        var (rateA, rateB) = (CompareStatistics.Wilson(okA, nA), CompareStatistics.Wilson(okB, nB));
        if (!same) return new PredictionChange(rateA, rateB, CompareStatistics.Unpaired(rateA, rateB), null, null, null, null, null);
        long wrong = 0, right = 0, changed = 0;
        double sum = 0, squares = 0;
        var flips = Enumerable.Range(0, k).Select(_ => new long[k]).ToArray();
        for (var i = 0; i < predA.Length; i++)
        {
            if ((uint)predA[i] < k && (uint)predB[i] < k) flips[predA[i]][predB[i]]++;
            if (predA[i] != predB[i]) changed++;
            if (labelA[i] < 0) continue;
            var d = (predB[i] == labelA[i] ? 1 : 0) - (predA[i] == labelA[i] ? 1 : 0);
            if (d < 0) wrong++;
            if (d > 0) right++;
            sum += d;
            squares += d * d;
        }
        return new PredictionChange(rateA, rateB, CompareStatistics.Paired(nA, sum, squares, -1, 1), wrong, right, changed, CompareStatistics.McNemar(wrong, right), flips);
    }

    private static ClassChange[] Classes(bool same, string[] names, int[] predA, int[] labelA, int[] predB, int[] labelB)
    {
        var k = names.Length;
        var (supportA, okA, supportB, okB, predictedA, predictedB) = (new long[k], new long[k], new long[k], new long[k], new long[k], new long[k]);
        var (sum, squares) = (new double[k], new double[k]);
        for (var i = 0; i < labelA.Length; i++)
        {
            if ((uint)predA[i] < k) predictedA[predA[i]]++;
            if ((uint)labelA[i] >= k) continue;
            supportA[labelA[i]]++;
            if (predA[i] == labelA[i]) okA[labelA[i]]++;
            if (same)
            {
                var d = (predB[i] == labelA[i] ? 1 : 0) - (predA[i] == labelA[i] ? 1 : 0);
                sum[labelA[i]] += d;
                squares[labelA[i]] += d * d;
            }
        }
        for (var i = 0; i < labelB.Length; i++)
        {
            if ((uint)predB[i] < k) predictedB[predB[i]]++;
            if ((uint)labelB[i] >= k) continue;
            supportB[labelB[i]]++;
            if (predB[i] == labelB[i]) okB[labelB[i]]++;
        }
        return [.. Enumerable.Range(0, k).Where(c => supportA[c] > 0 || supportB[c] > 0).Select(c =>
        {
            var (ra, rb) = (CompareStatistics.Wilson(okA[c], supportA[c]), CompareStatistics.Wilson(okB[c], supportB[c]));
            return new ClassChange(c, names[c], supportA[c], ra, rb,
                same ? CompareStatistics.Paired(supportA[c], sum[c], squares[c], -1, 1) : CompareStatistics.Unpaired(ra, rb),
                predictedA[c] == 0 ? null : okA[c] / (double)predictedA[c], predictedB[c] == 0 ? null : okB[c] / (double)predictedB[c]);
        }).OrderByDescending(c => Math.Abs(c.Recall.Value)).ThenBy(c => c.Class)];
    }

    private async Task<MethodChange> MethodAsync(string method, RunOutputs a, RunOutputs b, string[] names, int[] label, int[] predA, int[] predB, CancellationToken ct)
    {
        var (mapsA, mapsB) = (await a.MapsAsync(method, ct), await b.MapsAsync(method, ct));
        var size = mapsA.Size;
        var (importanceA, importanceB) = (new double[size], new double[size]);
        var (spearman, overlap, samples) = (new List<double>(), new List<double>(), new List<long>());
        var k = names.Length;
        var (classN, classSpearman, classOverlap) = (new long[k], new double[k], new double[k]);
        for (long i = 0; i < a.Manifest.Samples; i++)
        {
            if (await mapsA.RowAsync(i, ct) is not { } rowA || await mapsB.RowAsync(i, ct) is not { } rowB) continue;
            var va = rowA.Span;
            var vb = rowB.Span;
            for (var p = 0; p < size; p++) { importanceA[p] += Math.Abs(va[p]); importanceB[p] += Math.Abs(vb[p]); }
            var (rho, iou) = (MapAgreement.Spearman(va, vb), MapAgreement.TopOverlap(va, vb));
            spearman.Add(rho);
            overlap.Add(iou);
            samples.Add(i);
            if ((uint)label[i] < k) { classN[label[i]]++; classSpearman[label[i]] += rho; classOverlap[label[i]] += iou; }
        }
        var changed = Enumerable.Range(0, samples.Count).OrderBy(j => spearman[j]).ThenBy(j => samples[j]).Take(MostChanged)
            .Select(j => new ChangedSample(samples[j], label[samples[j]] >= 0 ? label[samples[j]] : null, predA[samples[j]], predB[samples[j]], spearman[j], overlap[j])).ToArray();
        var perClass = Enumerable.Range(0, k).Where(c => classN[c] > 0)
            .Select(c => new ClassAgreement(c, names[c], classN[c], classSpearman[c] / classN[c], classOverlap[c] / classN[c])).ToArray();
        return new MethodChange(method, samples.Count, CompareStatistics.Spread([.. spearman]), CompareStatistics.Spread([.. overlap]),
            MapAgreement.Ndcg(importanceA, importanceB), perClass, await ClassMeansAsync(method, a, b, names, ct), changed);
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

    private static string[] Findings(bool same, PredictionChange p, ClassChange[] classes, IReadOnlyList<MethodChange> methods, MethodTrust[] trust,
        LabelErrorChange? labelErrors, RepresentationChange? representation, string[] drift)
    {
        var findings = new List<string>();
        if (!same) findings.Add("The two runs explained different inputs (their data hashes or sample counts differ): only dataset-level figures are compared, and their differences are not paired.");
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
        findings.Add(drift.Length == 0 ? "No drift threshold was crossed." : $"Drift: {string.Join("; ", drift)}.");
        return [.. findings];
    }

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
