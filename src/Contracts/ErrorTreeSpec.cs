namespace ExplainCluster.Contracts;

/// <summary>
/// A table job's error cohorts (<c>errorTree</c>): a surrogate tree that predicts "misclassified" from the features and the
/// metadata, as the Responsible AI Toolbox's error analysis grows it (one LightGBM tree, <see cref="Depth"/> levels, at least
/// <see cref="MinLeaf"/> samples a leaf), on numeric features cut into at most <see cref="Bins"/> bins.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.ErrorTreeSpec")]
public sealed record ErrorTreeSpec(
    [property: Id(0)] int Depth = ErrorTreeSpec.DefaultDepth,
    [property: Id(1)] int MinLeaf = ErrorTreeSpec.DefaultMinLeaf,
    [property: Id(2)] int Bins = ErrorTreeSpec.DefaultBins)
{
    public const int DefaultDepth = 3;

    public const int DefaultMinLeaf = 20;

    public const int DefaultBins = 32;
}
