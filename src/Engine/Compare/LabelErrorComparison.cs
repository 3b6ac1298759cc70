using ExplainCluster.Contracts;
using ExplainCluster.Engine.ParamGrads;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// Label-error candidates that persist across the versions: the samples with the largest whole-gradient norms in A's and
/// in B's param-grads (each run's summary lists its <see cref="ParamGradStatistics.LargestCount"/>), and which are in both.
/// A sample both models find hard to fit is more likely mislabelled than one that only one model struggled with.
/// </summary>
public static class LabelErrorComparison
{
    /// <summary>Null unless both runs computed param-grads on the same inputs (the lists name samples by index).</summary>
    public static LabelErrorChange? Compare(RunOutputs a, RunOutputs b, bool same, string[] classes)
    {
        if (!same || a.Summary.ParamGrads is not { } ga || b.Summary.ParamGrads is not { } gb) return null;
        var rankB = gb.Largest.Select((e, r) => (e, r)).ToDictionary(x => x.e.Index, x => (Entry: x.e, Rank: x.r + 1));
        var persisting = ga.Largest.Select((e, r) => (e, r))
            .Where(x => rankB.ContainsKey(x.e.Index))
            .Select(x => Candidate(x.e, x.r + 1, rankB[x.e.Index].Entry, rankB[x.e.Index].Rank, classes))
            .OrderBy(c => c.RankA + c.RankB).ThenBy(c => c.Index).ToArray();
        var kept = persisting.Select(p => p.Index).ToHashSet();
        var union = ga.Largest.Length + gb.Largest.Length - persisting.Length;
        return new LabelErrorChange(ga.Largest.Length, gb.Largest.Length, persisting.Length, union == 0 ? 1 : persisting.Length / (double)union, persisting,
            [.. ga.Largest.Where(e => !kept.Contains(e.Index)).Select(e => e.Index)], [.. gb.Largest.Where(e => !kept.Contains(e.Index)).Select(e => e.Index)]);
    }

    private static PersistentCandidate Candidate(NormEntry a, int rankA, NormEntry b, int rankB, string[] classes) =>
        new(a.Index, a.Label >= 0 ? a.Label : null, (uint)a.Label < classes.Length ? classes[a.Label] : null, a.Prediction, b.Prediction, a.Norm, b.Norm, rankA, rankB);
}

/// <param name="CountA">How many candidates A lists (its largest norms).</param>
/// <param name="Persisting">The samples in both lists, by the sum of their ranks.</param>
/// <param name="Overlap">The IoU of the two lists (1 when both are empty).</param>
/// <param name="OnlyA">A's candidates B no longer lists, by A's rank.</param>
/// <param name="OnlyB">B's new candidates, by B's rank.</param>
public sealed record LabelErrorChange(int CountA, int CountB, int Shared, double Overlap, PersistentCandidate[] Persisting, long[] OnlyA, long[] OnlyB);

/// <param name="RankA">1 for A's largest norm.</param>
public sealed record PersistentCandidate(long Index, int? Label, string? LabelName, int PredictionA, int PredictionB, double NormA, double NormB, int RankA, int RankB);
