namespace ExplainCluster.Contracts;

/// <summary>
/// The job file's <c>verdicts</c>: the thresholds a method's maps are judged by, so that a reader of the report sees
/// the rule as well as the result. A method is faithful when its paired (method − random) deletion AUC difference lies
/// below −<see cref="MinDifference"/> and its insertion difference above <see cref="MinDifference"/>, both at
/// <see cref="Confidence"/>; it fails the sanity check when its maps' mean rank correlation with the original model's,
/// after the whole cascade of re-initialisations, is above <see cref="SanityMaxSimilarity"/>.
/// <see cref="Confidence"/> is also every interval's in summary.json. With the job's <c>trust</c> metrics: robust when its mean
/// max-sensitivity is at most <see cref="MaxSensitivity"/>, class-specific (random-logit passed) when its mean random-logit SSIM is
/// at most <see cref="RandomLogitMaxSimilarity"/>, and ROAD-faithful when its mean (LeRF − MoRF)/2 lies above
/// <see cref="MinDifference"/> beyond its interval.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.VerdictsSpec")]
public sealed record VerdictsSpec(
    [property: Id(0)] double Confidence = VerdictsSpec.DefaultConfidence,
    [property: Id(1)] double MinDifference = 0,
    [property: Id(2)] double SanityMaxSimilarity = SanitySpec.Threshold,
    [property: Id(3)] double MaxSensitivity = VerdictsSpec.DefaultMaxSensitivity,
    [property: Id(4)] double RandomLogitMaxSimilarity = VerdictsSpec.DefaultRandomLogitMaxSimilarity)
{
    public const double DefaultConfidence = 0.95;

    public const double DefaultMaxSensitivity = 0.5;

    public const double DefaultRandomLogitMaxSimilarity = 0.5;
}
