namespace ExplainCluster.Contracts;

/// <summary>
/// The job file's <c>dependence</c> (a table's global views): partial dependence, ICE curves and ALE of <see cref="Features"/>
/// (or the <see cref="Top"/> features by mean |attribution|) over a grid of <see cref="Grid"/> quantiles of a seeded sample of
/// <see cref="Sample"/> rows, and the permutation importance of every feature for accuracy over <see cref="Repeats"/> draws.
/// </summary>
/// <param name="Features">The features by name; null: the <see cref="Top"/> by the job's first method's mean |attribution|.</param>
/// <param name="Logit">The curves of the logits (scikit-learn's <c>response_method="decision_function"</c>) rather than the class probabilities.</param>
/// <param name="Repeats">Permutation importance's draws per feature; 0: off.</param>
[GenerateSerializer, Immutable, Alias("ec.DependenceSpec")]
public sealed record DependenceSpec(
    [property: Id(0)] string[]? Features,
    [property: Id(1)] int Top,
    [property: Id(2)] int Grid,
    [property: Id(3)] int Ice,
    [property: Id(4)] int Sample,
    [property: Id(5)] int Seed,
    [property: Id(6)] bool Logit,
    [property: Id(7)] int Repeats,
    [property: Id(8)] int PermutationSeed);

/// <summary>
/// What every shard does for <see cref="DependenceSpec"/> in the post pass, planned once from the merged sample: the features'
/// grids as the model receives them (a numeric feature's encoded value; a categorical one's level index), every feature's
/// sample values in the same form (permutation importance's draws), and the ICE rows by dataset index.
/// </summary>
/// <param name="Features">Indices of the table's features the curves are of.</param>
/// <param name="Grid">Per curve feature, its grid.</param>
/// <param name="Values">Per table feature, the sample's values in the sample's order.</param>
[GenerateSerializer, Immutable, Alias("ec.DependenceWork")]
public sealed record DependenceWork(
    [property: Id(0)] int[] Features,
    [property: Id(1)] float[][] Grid,
    [property: Id(2)] float[][] Values,
    [property: Id(3)] long[] Ice,
    [property: Id(4)] bool Logit,
    [property: Id(5)] int Repeats,
    [property: Id(6)] int Seed);
