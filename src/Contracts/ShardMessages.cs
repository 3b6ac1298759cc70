namespace ExplainCluster.Contracts;

/// <summary>A contiguous range of dataset indices [Start, Start + Count).</summary>
[GenerateSerializer, Immutable, Alias("ec.ShardSpec")]
public sealed record ShardSpec([property: Id(0)] int Index, [property: Id(1)] long Start, [property: Id(2)] long Count);

/// <summary>
/// One attempt at one shard. Attempts are numbered from 1; the job accepts only its current attempt.
/// <see cref="Chosen"/>: for an explain attempt of a job with stratified subsets, each subset's chosen
/// dataset indices within this shard (ascending), in the order of <see cref="SelectionPartial.Subsets"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.ShardRequest")]
public sealed record ShardRequest(
    [property: Id(0)] string JobId,
    [property: Id(1)] JobSpec Job,
    [property: Id(2)] ShardSpec Shard,
    [property: Id(3)] int Attempt,
    [property: Id(4)] ShardPhase Phase = ShardPhase.Explain,
    [property: Id(5)] long[][]? Chosen = null,
    [property: Id(6)] PostWork? Post = null,
    [property: Id(7)] string? Baseline = null,
    [property: Id(8)] int ConceptsAttempt = 0,
    [property: Id(9)] byte[]? Tree = null,
    [property: Id(10)] int ExplainAttempt = 0,
    [property: Id(11)] string? Range = null,
    [property: Id(12)] int RangeShards = 0);

/// <summary>
/// A shard's partial statistics: sums and counts only, so that partials merge by addition; never tensors. Each
/// feature's statistics travel as that feature's own encoding (<see cref="Features"/>; the engine's feature
/// registry reads them), so the contract does not change when a feature is added. Small partials travel in the
/// message; larger ones than the silo's <c>ModelHost:MaxInlinePartialBytes</c> by reference (<see cref="Reference"/>).
/// </summary>
/// <param name="PredictedCounts">Samples per predicted class (its length is the model's class count).</param>
[GenerateSerializer, Immutable, Alias("ec.ShardPartial")]
public sealed record ShardPartial(
    [property: Id(0)] int ShardIndex,
    [property: Id(1)] long Count,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] long[] PredictedCounts,
    [property: Id(5)] FeaturePartial[] Features,
    [property: Id(6)] int Attempt,
    [property: Id(7)] bool Staged = false)
{
    /// <summary>How many bytes the partial's statistics take in a message.</summary>
    public long ApproxBytes => 8L * PredictedCounts.Length + Features.Sum(f => (long)f.Data.Length + f.Feature.Length);

    /// <summary>The classes with samples, in order: row r of a per-class sum belongs to class ClassRows(counts)[r].</summary>
    public static int[] ClassRows(long[] counts) => [.. Enumerable.Range(0, counts.Length).Where(c => counts[c] > 0)];

    /// <summary>
    /// The partial by reference: who, which attempt and how many samples, without the statistics, which the
    /// job reads from the attempt's staged partial.bin. Keeps wide models' partials out of grain messages.
    /// </summary>
    public ShardPartial Reference() => this with { PredictedCounts = [], Features = [], Staged = true };
}

/// <summary>One feature's statistics over a shard, as the feature encoded them.</summary>
[GenerateSerializer, Immutable, Alias("ec.FeaturePartial")]
public sealed record FeaturePartial([property: Id(0)] string Feature, [property: Id(1)] byte[] Data);

[GenerateSerializer, Immutable, Alias("ec.ErrorPartial")]
public sealed record ErrorPartial(
    [property: Id(0)] long[] Confusion,
    [property: Id(1)] double SumNll,
    [property: Id(2)] long[] BinCount,
    [property: Id(3)] double[] BinConfidence,
    [property: Id(4)] long[] BinCorrect,
    [property: Id(5)] LossEntry[] TopLoss);

[GenerateSerializer, Immutable, Alias("ec.LossEntry")]
public sealed record LossEntry(
    [property: Id(0)] long Index,
    [property: Id(1)] double Loss,
    [property: Id(2)] int Label,
    [property: Id(3)] int Prediction,
    [property: Id(4)] double Confidence,
    [property: Id(5)] int Shard,
    [property: Id(6)] int Row);

/// <summary>
/// One method's sums over a shard: the sample count per target class, Σ attribution map per class that has
/// samples (rows in class order, <see cref="ShardPartial.ClassRows"/>), and Σ |attribution map| over all samples.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.MethodPartial")]
public sealed record MethodPartial(
    [property: Id(0)] string Method,
    [property: Id(1)] int[] MapShape,
    [property: Id(2)] long[] ClassCounts,
    [property: Id(3)] double[] ClassSum,
    [property: Id(4)] double[] AbsSum);

/// <summary>
/// The faithfulness sums of a shard: the sample count per target class (dense) and, per evaluated ordering
/// (each map method, then <see cref="FaithfulnessSpec.Random"/>), Σ of the curves and Σ of the AUCs per class.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.FaithfulnessPartial")]
public sealed record FaithfulnessPartial(
    [property: Id(0)] int Steps,
    [property: Id(1)] long[] ClassCounts,
    [property: Id(2)] CurveSums[] Methods)
{
    public long ApproxValues => ClassCounts.Length + Methods.Sum(m => (long)m.Deletion.Length + m.Insertion.Length + m.ClassAuc.Length);
}

/// <summary>
/// One ordering's sums: Σ deletion and Σ insertion curve ([steps + 1] each) over the shard's samples it evaluated,
/// Σ AUC and Σ AUC² per target class, dense, [classes × 2]: deletion then insertion for each class, and how many samples
/// of each class it evaluated (fewer than <see cref="FaithfulnessPartial.ClassCounts"/> for a method with a subset).
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.CurveSums")]
public sealed record CurveSums(
    [property: Id(0)] string Method,
    [property: Id(1)] double[] Deletion,
    [property: Id(2)] double[] Insertion,
    [property: Id(3)] double[] ClassAuc,
    [property: Id(4)] long[] Counts,
    [property: Id(5)] double[] ClassSquares);

/// <summary>What a shard attempt computes: the selection pass of stratified subsets, or the shard's explanations.</summary>
[GenerateSerializer, Alias("ec.ShardPhase")]
public enum ShardPhase
{
    Explain = 0,
    Select = 1,

    /// <summary>After every shard's explanations: the pruning curve and the maximisation images (<see cref="PostWork"/>).</summary>
    Post = 2,

    /// <summary>
    /// Once the job's outputs are in place: its comparison with a baseline run (<see cref="ShardRequest.Baseline"/>) over a
    /// fixed range of samples, both runs' rows read from their outputs (<see cref="ComparedPartial"/>).
    /// </summary>
    Compare = 3,

    /// <summary>
    /// Before the explanations, once per job: the concept activation vectors of the job's <c>concepts</c> (TCAV), staged in the
    /// output by the attempt (<see cref="ConceptsTrained"/>); each explain attempt reads the accepted attempt's (<see cref="ShardRequest.ConceptsAttempt"/>).
    /// </summary>
    Concepts = 4,

    /// <summary>
    /// After the explanations, once per level of a table's error tree: the tree so far (<see cref="ShardRequest.Tree"/>, the engine's
    /// encoding) routes the shard's rows, whose predictions and attributions the explain attempt <see cref="ShardRequest.ExplainAttempt"/>
    /// staged; the attempt returns one histogram per open node, column and bin (<see cref="TreeLevelPartial"/>).
    /// </summary>
    Tree = 5,
}

/// <summary>
/// A concepts attempt's outcome: its CAVs are staged in the job's output (too large for a message: one vector of the layer's size
/// per concept, run and random pair), and it says which attempt wrote them and how many it trained.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.ConceptsTrained")]
public sealed record ConceptsTrained(
    [property: Id(0)] int ShardIndex,
    [property: Id(1)] int Attempt,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] int Vectors);

/// <summary>A tree attempt's counts of one level of the error tree (<see cref="ShardPhase.Tree"/>), in the engine's encoding: nodes × columns × bins, whatever the shard's rows.</summary>
[GenerateSerializer, Immutable, Alias("ec.TreeLevelPartial")]
public sealed record TreeLevelPartial(
    [property: Id(0)] int ShardIndex,
    [property: Id(1)] int Attempt,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] byte[] Counts);

/// <summary>A compare attempt's part of the comparison over its range of samples, in the engine's encoding (counts and per-sample agreement; no maps).</summary>
[GenerateSerializer, Immutable, Alias("ec.ComparedPartial")]
public sealed record ComparedPartial(
    [property: Id(0)] int ShardIndex,
    [property: Id(1)] int Attempt,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] byte[] Part);

/// <summary>
/// A selection attempt's candidates, per stratified subset of the job (<c>subset: {"perClass": K, "seed": s}</c>,
/// distinct (K, seed) in method order): in each stratum (target class × correct) the shard's K samples with the
/// smallest keys. The job's choice is the K smallest of the union, so it does not depend on the sharding.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.SelectionPartial")]
public sealed record SelectionPartial(
    [property: Id(0)] int ShardIndex,
    [property: Id(1)] int Attempt,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] StratumCandidate[][] Subsets);

/// <summary>A sample that may be chosen: its stratum (target class · 2 + correct), its rank key and its dataset index.</summary>
[GenerateSerializer, Immutable, Alias("ec.StratumCandidate")]
public readonly record struct StratumCandidate(
    [property: Id(0)] int Stratum,
    [property: Id(1)] ulong Key,
    [property: Id(2)] long Index);

/// <summary>
/// A shard's param-grads statistics: the layers as its silo's engine ran them, per (class, correct) cell the
/// count, Σ norm, Σ norm² and a histogram of log10 norm (<see cref="Bins"/> bins), and the shard's largest norms.
/// Cells are dense: cell = target class · 2 + correct (1 when the prediction equals the label, or with no labels).
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.ParamGradPartial")]
public sealed record ParamGradPartial(
    [property: Id(0)] ParamGradLayer[] Layers,
    [property: Id(1)] long[] CellCounts,
    [property: Id(2)] double[] CellNormSums,
    [property: Id(3)] long[] CellHistograms,
    [property: Id(4)] NormEntry[] Largest,
    [property: Id(5)] double[] CellNormSquares)
{
    /// <summary>Histogram bins over log10 of the norm, from <see cref="LogLow"/> to <see cref="LogHigh"/>; values outside fall in the end bins.</summary>
    public const int Bins = 40;

    public const double LogLow = -6, LogHigh = 4;

    public long ApproxValues => CellCounts.Length * (3L + Bins) + 6L * Largest.Length;
}

/// <summary>One parameter-holding module: its name, parameter count, and whether its per-sample gradients are vectorised (else how they are computed).</summary>
[GenerateSerializer, Immutable, Alias("ec.ParamGradLayer")]
public sealed record ParamGradLayer(
    [property: Id(0)] string Name,
    [property: Id(1)] long Parameters,
    [property: Id(2)] bool Vectorised,
    [property: Id(3)] string How);

/// <summary>A sample with a large whole-gradient norm: a candidate label error.</summary>
[GenerateSerializer, Immutable, Alias("ec.NormEntry")]
public sealed record NormEntry(
    [property: Id(0)] long Index,
    [property: Id(1)] double Norm,
    [property: Id(2)] int Label,
    [property: Id(3)] int Prediction,
    [property: Id(4)] int Shard,
    [property: Id(5)] int Row);
