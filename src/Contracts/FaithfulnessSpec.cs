namespace ExplainCluster.Contracts;

/// <summary>
/// The faithfulness evaluation of a job's maps: deletion and insertion curves of <see cref="Steps"/> steps,
/// replaced pixels set to <see cref="Baseline"/> (in the model's input space, after preprocessing), and a
/// random ordering per sample from <see cref="Seed"/> as the reference line.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.FaithfulnessSpec")]
public sealed record FaithfulnessSpec(
    [property: Id(0)] int Steps = FaithfulnessSpec.DefaultSteps,
    [property: Id(1)] double Baseline = 0,
    [property: Id(2)] int Seed = 0)
{
    public const int DefaultSteps = 20;

    /// <summary>The name of the reference ordering, beside the job's methods.</summary>
    public const string Random = "random";
}
