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
