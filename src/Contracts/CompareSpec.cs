namespace ExplainCluster.Contracts;

/// <summary>
/// A job's <c>compare</c> block: after it completes, compare it with <paramref name="Baseline"/> (<see cref="Previous"/>: the
/// latest completed run of its history; otherwise a job output's location) and flag drift past <paramref name="Fail"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.CompareSpec")]
public sealed record CompareSpec([property: Id(0)] string Baseline, [property: Id(1)] CompareGate Fail)
{
    public const string Previous = "previous";
}

/// <summary>
/// The drift gate's thresholds; a null one is not checked. Crossed when accuracy falls by more than
/// <paramref name="AccuracyDrop"/> (a fraction: 0.01 is one point), when a method's nDCG of global importance is below
/// <paramref name="Ndcg"/> (Clarify's 0.9), or when a method's median per-sample map correlation is below
/// <paramref name="MedianMapCorrelation"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.CompareGate")]
public sealed record CompareGate(
    [property: Id(0)] double? AccuracyDrop = null,
    [property: Id(1)] double? Ndcg = null,
    [property: Id(2)] double? MedianMapCorrelation = null);
