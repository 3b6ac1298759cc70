namespace ExplainCluster.Engine.Compare;

/// <summary>
/// comparison.json: what changed from a baseline run (A, e.g. last night's model) to a candidate run (B, the retrained one),
/// on the same inputs sample by sample, or only dataset-level figures when the inputs differ (<see cref="SameInputs"/>).
/// Every rate has its n and a 95 % interval. Documented in docs/compare.md.
/// </summary>
/// <param name="Findings">The comparison in sentences, most important first: what a reader sees first in compare.html.</param>
/// <param name="Classes">Per class (by label): recall and precision in A and B, largest change of recall first.</param>
/// <param name="Methods">Per explanation method both runs have over pixels: how far the maps agree; empty when the inputs differ.</param>
/// <param name="Drift">The gate's thresholds this comparison crossed, one line each; empty when none (or no gate).</param>
/// <param name="Trust">Per method either run scored for faithfulness or checked for sanity in both: the AUC deltas and the verdicts.</param>
/// <param name="Representation">Linear CKA of the two models' embedding features on the same inputs; null when not computed (no model host, or different inputs).</param>
/// <param name="Activations">Per layer both models share with the same output shape: how each class's mean activations moved; null when not computed (no model host, or different inputs).</param>
/// <param name="LeftOut">The samples either run skipped as unreadable images (<c>"onBadSample": "skip"</c>), left out of every paired figure; null when neither skipped any.</param>
/// <param name="LabelErrors">The label-error candidates (largest param-grad norms) both runs list; null unless both ran param-grads on the same inputs.</param>
public sealed record Comparison(
    string Schema,
    RunRef Baseline,
    RunRef Candidate,
    bool SameInputs,
    string[] Findings,
    PredictionChange Predictions,
    ClassChange[] Classes,
    MethodChange[] Methods,
    string[] Drift,
    MethodTrust[] Trust,
    LabelErrorChange? LabelErrors,
    RepresentationChange? Representation = null,
    ActivationChange[]? Activations = null,
    LeftOut? LeftOut = null)
{
    public const string SchemaName = "explaincluster.comparison/1";
}

/// <summary>Samples left out because a run skipped them as unreadable: in either run (<paramref name="Samples"/>), in A, in B, in both.</summary>
public sealed record LeftOut(long Samples, long SkippedA, long SkippedB, long SkippedBoth);

/// <summary>One side of the comparison: where its outputs are (as its job gave them), and what it ran on.</summary>
public sealed record RunRef(string Output, string JobId, string Job, string? ModelSha256, string? InputsSha256, DateTimeOffset? Finished);

/// <summary>A rate with its Wilson 95 % interval and n.</summary>
public sealed record Rate(double Value, double Low, double High, long N);

/// <summary>A difference B − A with its 95 % interval (paired on the same samples where the inputs are the same) and n.</summary>
public sealed record Difference(double Value, double Low, double High, long N);

/// <param name="Flips">[A's prediction][B's prediction] counts over the samples (same inputs only).</param>
/// <param name="McNemarP">McNemar's exact two-sided p-value that accuracy did not change (same inputs only).</param>
public sealed record PredictionChange(
    Rate AccuracyA,
    Rate AccuracyB,
    Difference Accuracy,
    long? BecameWrong,
    long? BecameRight,
    long? PredictionChanged,
    double? McNemarP,
    long[][]? Flips);

public sealed record ClassChange(int Class, string Name, long Support, Rate RecallA, Rate RecallB, Difference Recall, double? PrecisionA, double? PrecisionB);

/// <param name="Spearman">Per sample, Spearman's ρ of |map A| and |map B|.</param>
/// <param name="TopOverlap">Per sample, the IoU of the top 10 % pixels by |value|.</param>
/// <param name="Ndcg">nDCG of B's global importance (mean |map| per pixel) ranked against A's (Clarify's drift measure; 1 = same order).</param>
/// <param name="ClassMeanCorrelation">Per target class both runs have: Pearson's r of the class-mean maps.</param>
/// <param name="MostChanged">The samples whose maps agree least (lowest ρ), for a reader to look at.</param>
public sealed record MethodChange(
    string Method,
    long Samples,
    Spread Spearman,
    Spread TopOverlap,
    double Ndcg,
    ClassAgreement[] PerClass,
    ClassCorrelation[] ClassMeanCorrelation,
    ChangedSample[] MostChanged);

/// <summary>A per-sample measure over samples: its mean with a 95 % interval, and its median and 10th/90th percentiles.</summary>
public sealed record Spread(double Mean, double Low, double High, double Median, double P10, double P90, long N);

public sealed record ClassAgreement(int Class, string Name, long N, double MeanSpearman, double MeanTopOverlap);

public sealed record ClassCorrelation(int Class, string Name, double Correlation);

public sealed record ChangedSample(long Index, int? Label, int PredictionA, int PredictionB, double Spearman, double TopOverlap);
