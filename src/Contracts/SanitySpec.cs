namespace ExplainCluster.Contracts;

/// <summary>
/// The model-randomisation sanity check (Adebayo et al., 2018): on a stratified sample of <see cref="Samples"/>
/// (target class × correct, chosen from <see cref="Seed"/>), every map method runs again on a copy of the
/// model whose parameterised layers are re-initialised cumulatively from the output layer down.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.SanitySpec")]
/// <param name="Methods">The methods to check (null: every method whose maps lie over the pixels).</param>
public sealed record SanitySpec(
    [property: Id(0)] int Samples = SanitySpec.DefaultSamples,
    [property: Id(1)] int Seed = 0,
    [property: Id(2)] string[]? Methods = null)
{
    public const int DefaultSamples = 256;

    /// <summary>A method whose mean rank correlation after full randomisation is above this is flagged as insensitive to the model.</summary>
    public const double Threshold = 0.5;
}

/// <summary>
/// A shard's sanity sums over its sanity samples: per map method, Σ Spearman and Σ SSIM per cascade step
/// (step s: the last s+1 layers of <see cref="Layers"/>, which are in cascade order, re-initialised), and the
/// cascade of its first sanity sample, kept if no other shard's has a smaller index.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.SanityPartial")]
public sealed record SanityPartial(
    [property: Id(0)] string[] Layers,
    [property: Id(1)] long Count,
    [property: Id(2)] SanitySums[] Methods,
    [property: Id(3)] SanityExample? Example)
{
    public long ApproxValues => Methods.Sum(m => 2L * m.Spearman.Length) + (Example?.Scores.Length ?? 0) / 2;
}

/// <param name="LastByStratum">The last step's Spearman per stratum of the samples (target class × correct) as
/// [strata × 3]: n, Σ, Σ² for each, so that the summary reweights the stratified sample to the dataset; null when not kept.</param>
[GenerateSerializer, Immutable, Alias("ec.SanitySums")]
public sealed record SanitySums(
    [property: Id(0)] string Method,
    [property: Id(1)] double[] Spearman,
    [property: Id(2)] double[] Ssim,
    [property: Id(3)] double[]? LastByStratum = null);

/// <summary>One sample's per-pixel scores |map| along the cascade: [methods, steps + 1, height, width], step 0 the original model.</summary>
[GenerateSerializer, Immutable, Alias("ec.SanityExample")]
public sealed record SanityExample(
    [property: Id(0)] long Index,
    [property: Id(1)] int Height,
    [property: Id(2)] int Width,
    [property: Id(3)] float[] Scores);
