using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Verdicts;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// Whether each method's maps became more or less trustworthy: its faithfulness AUCs (B − A, paired per sample where both
/// runs have the per-sample columns on the same inputs) and its faithfulness and sanity verdicts in either run.
/// </summary>
public static class TrustComparison
{
    /// <summary>
    /// Per method both runs scored by faithfulness or checked for sanity (ordinal order); empty when neither ran in both. The AUC
    /// deltas are paired per sample from <paramref name="paired"/> (the ranges' parts folded) where both runs have the columns.
    /// </summary>
    public static MethodTrust[] Compare(RunOutputs a, RunOutputs b, bool same, IReadOnlyList<TrustPart> paired)
    {
        var (fa, fb) = (a.Summary.Faithfulness, b.Summary.Faithfulness);
        var (sa, sb) = (a.Summary.Sanity, b.Summary.Sanity);
        var methods = new SortedSet<string>(PairedMethods(a, b), StringComparer.Ordinal);
        if (sa is not null && sb is not null) methods.UnionWith(sa.Methods.Keys.Where(sb.Methods.ContainsKey));
        var result = new List<MethodTrust>();
        foreach (var method in methods)
        {
            FaithfulnessDelta? faithfulness = null;
            if (fa?.Methods.GetValueOrDefault(method) is { } ma && fb?.Methods.GetValueOrDefault(method) is { } mb)
                faithfulness = same && paired.FirstOrDefault(p => p.Method == method) is { } part ? part.Delta() : Unpaired(ma, mb);
            result.Add(new MethodTrust(method, faithfulness,
                Verdict(a, method), Verdict(b, method), Sanity(sa, method), Sanity(sb, method)));
        }
        return [.. result];
    }

    /// <summary>The methods both runs scored for faithfulness (not the random baseline), in ordinal order.</summary>
    public static string[] PairedMethods(RunOutputs a, RunOutputs b) =>
        a.Summary.Faithfulness is { } fa && b.Summary.Faithfulness is { } fb
            ? [.. fa.Methods.Keys.Where(m => m != Contracts.FaithfulnessSpec.Random && fb.Methods.ContainsKey(m)).Order(StringComparer.Ordinal)]
            : [];

    /// <summary>The difference of the two runs' mean AUCs, with the normal interval of independent means (half-widths in quadrature).</summary>
    private static FaithfulnessDelta Unpaired(FaithfulnessMethod a, FaithfulnessMethod b) =>
        new(CompareStatistics.Unpaired(a.Deletion, b.Deletion), CompareStatistics.Unpaired(a.Insertion, b.Insertion), false);

    private static string? Verdict(RunOutputs run, string method) => run.Summary.Verdicts?.Methods.GetValueOrDefault(method)?.Faithfulness;

    private static SanityResult? Sanity(SanitySummary? summary, string method) =>
        summary?.Methods.GetValueOrDefault(method) is { } m
            ? new SanityResult(m.Insensitive ? VerdictsFeature.SanityFailed : VerdictsFeature.SanityPassed, m.Last?.Value ?? (m.Spearman.Length > 0 ? m.Spearman[^1] : double.NaN))
            : null;
}

/// <summary>One method's trust in A and B.</summary>
/// <param name="Faithfulness">B − A of the deletion and insertion AUCs; null when a run did not score the method.</param>
/// <param name="FaithfulnessA">A's verdict ("faithful", "not faithful", "inconclusive"); null without one.</param>
/// <param name="SanityA">A's sanity check of the method; null when it did not run on it.</param>
public sealed record MethodTrust(string Method, FaithfulnessDelta? Faithfulness, string? FaithfulnessA, string? FaithfulnessB, SanityResult? SanityA, SanityResult? SanityB)
{
    /// <summary>Whether either verdict differs between the runs (a verdict one run lacks is no change).</summary>
    public bool VerdictChanged =>
        (FaithfulnessA is not null && FaithfulnessB is not null && FaithfulnessA != FaithfulnessB) ||
        (SanityA is not null && SanityB is not null && SanityA.Verdict != SanityB.Verdict);
}

/// <param name="Deletion">B − A of the mean deletion AUC (lower is more faithful).</param>
/// <param name="Insertion">B − A of the mean insertion AUC (higher is more faithful).</param>
/// <param name="Paired">Whether the difference is the mean of per-sample differences (same inputs, per-sample columns in both).</param>
public sealed record FaithfulnessDelta(Difference Deletion, Difference Insertion, bool Paired);

/// <param name="Verdict">"passed" or "failed".</param>
/// <param name="Correlation">The mean rank correlation with the original model's maps once every layer is re-initialised.</param>
public sealed record SanityResult(string Verdict, double Correlation);
