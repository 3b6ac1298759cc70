namespace ExplainCluster.Contracts;

/// <summary>One of the job's global views (<c>views</c> in the job file) by name, with its options' JSON text (checked when the job file is read).</summary>
[GenerateSerializer, Immutable, Alias("ec.ViewSpec")]
public sealed record ViewSpec(
    [property: Id(0)] string Name,
    [property: Id(1)] string Options);

/// <summary>
/// The <c>weights</c> view, computed once per job (by the shard that starts at sample 0): statistics of every
/// parameter tensor, and the first convolution's filters [out, in, kh, kw].
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.WeightsPartial")]
public sealed record WeightsPartial(
    [property: Id(0)] ParameterStatistics[] Parameters,
    [property: Id(1)] string? FirstConv,
    [property: Id(2)] int[] FirstConvShape,
    [property: Id(3)] float[] FirstConvFilters);

/// <summary>
/// One parameter tensor: its shape, L2 norm, mean, standard deviation (population), the fraction of near-zero
/// entries (|w| &lt; 1e-3 · max |w|), and a histogram of <see cref="Bins"/> equal bins from <see cref="Min"/> to <see cref="Max"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.ParameterStatistics")]
public sealed record ParameterStatistics(
    [property: Id(0)] string Name,
    [property: Id(1)] long[] Shape,
    [property: Id(2)] double Norm,
    [property: Id(3)] double Mean,
    [property: Id(4)] double Std,
    [property: Id(5)] double NearZero,
    [property: Id(6)] double Min,
    [property: Id(7)] double Max,
    [property: Id(8)] long[] Histogram)
{
    public const int Bins = 32;
}

/// <summary>The <c>activations</c> view's sums over a shard, per layer.</summary>
[GenerateSerializer, Immutable, Alias("ec.ActivationsPartial")]
public sealed record ActivationsPartial([property: Id(0)] LayerActivationSums[] Layers)
{
    public long ApproxValues => Layers.Sum(l => (long)l.ClassCounts.Length + l.ClassSums.Length + l.Fired.Length);
}

/// <summary>
/// One layer's sums: samples per target class (dense), Σ of each sample's per-channel mean activation per class
/// with samples (rows in class order, <see cref="ShardPartial.ClassRows"/>), per channel the samples in which it
/// fired (some activation &gt; 0), and how many activations were ≤ 0 out of how many.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.LayerActivationSums")]
public sealed record LayerActivationSums(
    [property: Id(0)] string Layer,
    [property: Id(1)] int Channels,
    [property: Id(2)] long[] ClassCounts,
    [property: Id(3)] double[] ClassSums,
    [property: Id(4)] long[] Fired,
    [property: Id(5)] long NonPositive,
    [property: Id(6)] long Elements);

/// <summary>
/// The <c>pruning</c> view's first pass over a shard's part of its stratified sample: with nothing zeroed and with each
/// channel of the layer zeroed alone, how many samples the model still gets right (labels given) and Σ of the
/// target class's softmax probability. Sums that add across shards.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.PruningImportancePartial")]
public sealed record PruningImportancePartial(
    [property: Id(0)] bool Labelled,
    [property: Id(1)] long Samples,
    [property: Id(2)] long BaselineCorrect,
    [property: Id(3)] double BaselineProbability,
    [property: Id(4)] long[] Correct,
    [property: Id(5)] double[] Probability);

/// <summary>The <c>pruning</c> view's second pass: for each count k in <see cref="Removed"/>, the same sums with the k least important channels zeroed together.</summary>
[GenerateSerializer, Immutable, Alias("ec.PruningCurvePartial")]
public sealed record PruningCurvePartial(
    [property: Id(0)] bool Labelled,
    [property: Id(1)] long Samples,
    [property: Id(2)] int[] Removed,
    [property: Id(3)] long[] Correct,
    [property: Id(4)] double[] Probability);

/// <summary>What the job hands a shard after its explanations (<see cref="ShardPhase.Post"/>): the pruning ranking to run the curve with, and the maximisation objectives it computes.</summary>
[GenerateSerializer, Immutable, Alias("ec.PostWork")]
public sealed record PostWork(
    [property: Id(0)] int[]? PruningOrder,
    [property: Id(1)] int[] PruningRemoved,
    [property: Id(2)] MaximisationObjective[] Objectives,
    [property: Id(3)] EmbeddingBasis? Embedding = null,
    [property: Id(4)] long[]? VoteIndex = null,
    [property: Id(5)] float[]? VoteAgreement = null,
    [property: Id(6)] DependenceWork? Dependence = null);

/// <summary>A class logit (<see cref="Layer"/> null) or a channel of a layer to maximise.</summary>
[GenerateSerializer, Immutable, Alias("ec.MaximisationObjective")]
public sealed record MaximisationObjective(
    [property: Id(0)] int Class,
    [property: Id(1)] string? Layer,
    [property: Id(2)] int Channel);

/// <summary>One objective's maximising input (model input space, [C, H, W] row-major), its trajectory, final value and class probability.</summary>
[GenerateSerializer, Immutable, Alias("ec.MaximisationImage")]
public sealed record MaximisationImage(
    [property: Id(0)] MaximisationObjective Objective,
    [property: Id(1)] int[] Shape,
    [property: Id(2)] float[] Input,
    [property: Id(3)] float[] Trajectory,
    [property: Id(4)] float Value,
    [property: Id(5)] float? Probability);

/// <summary>A post attempt's results: the pruning curve's sums over its part of the sample, and its maximisation images.</summary>
[GenerateSerializer, Immutable, Alias("ec.PostPartial")]
public sealed record PostPartial(
    [property: Id(0)] int ShardIndex,
    [property: Id(1)] int Attempt,
    [property: Id(2)] string Silo,
    [property: Id(3)] double Seconds,
    [property: Id(4)] PruningCurvePartial? Curve,
    [property: Id(5)] MaximisationImage[] Images,
    [property: Id(6)] byte[]? Dependence = null);

/// <summary>
/// The <c>embedding</c> view's sums over a shard: each sample's features at the layer (flattened, d values), as
/// Σ x [d] and Σ x xᵀ [d × d] (row-major), over <see cref="Count"/> samples; the job's exact PCA comes from them.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.EmbeddingPartial")]
public sealed record EmbeddingPartial(
    [property: Id(0)] string Layer,
    [property: Id(1)] long Count,
    [property: Id(2)] double[] Sum,
    [property: Id(3)] double[] Cross,
    [property: Id(4)] long[]? SubsetIndex = null,
    [property: Id(5)] long[]? SubsetLabels = null,
    [property: Id(6)] float[]? SubsetFeatures = null,
    [property: Id(7)] int[]? SubsetStrata = null);

/// <summary>The embedding's PCA for the post pass: the layer, the features' mean [d] and the components [dims × d]; where the shard's accepted explain attempt staged its files.</summary>
[GenerateSerializer, Immutable, Alias("ec.EmbeddingBasis")]
public sealed record EmbeddingBasis(
    [property: Id(0)] string Layer,
    [property: Id(1)] double[] Mean,
    [property: Id(2)] double[] Components,
    [property: Id(3)] int Dims,
    [property: Id(4)] int ExplainAttempt);
