namespace ExplainCluster.Contracts;

/// <summary>
/// The job file's <c>trust</c>: Quantus-style metrics of every pixel map. Complexity (sparseness, entropy) is computed
/// from the maps on every sample a method explained; the others run the method again (max- and avg-sensitivity under
/// uniform noise, random-logit against another class, ROAD's imputed removals) on the samples of
/// <see cref="SubsetFraction"/> or <see cref="SubsetPerClass"/> (seeded by <see cref="SubsetSeed"/>), within the job's
/// batch size. Every random draw is seeded per sample from (<see cref="Seed"/>, dataset index).
/// </summary>
/// <param name="Sensitivity">Null: off.</param>
/// <param name="Road">Null: off.</param>
/// <param name="Methods">The methods it evaluates; null: every method whose maps lie over the pixels.</param>
[GenerateSerializer, Immutable, Alias("ec.TrustSpec")]
public sealed record TrustSpec(
    [property: Id(0)] int Seed = 0,
    [property: Id(1)] double SubsetFraction = 1,
    [property: Id(2)] int SubsetPerClass = 0,
    [property: Id(3)] int SubsetSeed = 0,
    [property: Id(4)] bool Complexity = true,
    [property: Id(5)] SensitivitySpec? Sensitivity = null,
    [property: Id(6)] bool RandomLogit = true,
    [property: Id(7)] RoadSpec? Road = null,
    [property: Id(8)] string[]? Methods = null);

/// <summary>Max- and avg-sensitivity (Yeh et al. 2019): <see cref="Samples"/> draws of U(−r, r) noise on every input value, r = <see cref="Radius"/>.</summary>
[GenerateSerializer, Immutable, Alias("ec.SensitivitySpec")]
public sealed record SensitivitySpec([property: Id(0)] double Radius = SensitivitySpec.DefaultRadius, [property: Id(1)] int Samples = SensitivitySpec.DefaultSamples)
{
    /// <summary>Quantus' MaxSensitivity default (lower_bound 0.2).</summary>
    public const double DefaultRadius = 0.2;

    public const int DefaultSamples = 10;
}

/// <summary>ROAD (Rong et al. 2022): the removed percentages (pytorch-grad-cam's 10..90), noisy linear imputation with noise σ <see cref="Noise"/>.</summary>
[GenerateSerializer, Immutable, Alias("ec.RoadSpec")]
public sealed record RoadSpec([property: Id(0)] int[] Percentiles, [property: Id(1)] double Noise = RoadSpec.DefaultNoise)
{
    public const double DefaultNoise = 0.01;

    public static readonly int[] DefaultPercentiles = [10, 20, 30, 40, 50, 60, 70, 80, 90];
}
