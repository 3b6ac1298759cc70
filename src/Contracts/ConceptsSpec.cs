namespace ExplainCluster.Contracts;

/// <summary>
/// The job file's <c>concepts</c>: TCAV (Kim et al. 2018) at <see cref="Layer"/>. Each concept set and the random examples are
/// image folders (read with the job's transforms) or .npy arrays (with the job's preprocessing), at absolute locations. For each of
/// <see cref="Runs"/> runs a concept's CAV is trained on a seeded draw of <see cref="Examples"/> of its examples against as many
/// random ones, and a random-vs-random CAV on two disjoint draws of the random examples (the null distribution); every draw is
/// seeded from (<see cref="Seed"/>, run, set).
/// </summary>
/// <param name="Sets">The concepts by name, in the job file's order, with their locations.</param>
/// <param name="Examples">Examples per side of each CAV; 0: the smallest concept set's size, at most half the random examples.</param>
/// <param name="Alpha">The significance level of the t-tests, before the Bonferroni correction over the (class, concept) pairs.</param>
[GenerateSerializer, Immutable, Alias("ec.ConceptsSpec")]
public sealed record ConceptsSpec(
    [property: Id(0)] string Layer,
    [property: Id(1)] ConceptSet[] Sets,
    [property: Id(2)] string Random,
    [property: Id(3)] int Runs = ConceptsSpec.DefaultRuns,
    [property: Id(4)] int Seed = 0,
    [property: Id(5)] int Examples = 0,
    [property: Id(6)] double Alpha = ConceptsSpec.DefaultAlpha)
{
    public const int DefaultRuns = 10;

    public const double DefaultAlpha = 0.05;

    /// <summary>The fewest examples a concept set (and each half of the random examples) may have.</summary>
    public const int MinExamples = 5;
}

/// <summary>One concept: its name (summary.json's key) and where its examples are.</summary>
[GenerateSerializer, Immutable, Alias("ec.ConceptSet")]
public sealed record ConceptSet([property: Id(0)] string Name, [property: Id(1)] string Location);
