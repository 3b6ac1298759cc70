using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Verdicts;

/// <summary>The job file's <c>verdicts</c> object, read strictly: confidence [0.95], minDifference [0], sanityMaxSimilarity [0.5],
/// maxSensitivity [0.5], randomLogitMaxSimilarity [0.5].</summary>
public static class VerdictsOptions
{
    /// <param name="json">The object's text.</param>
    public static VerdictsSpec Read(string json)
    {
        var o = OptionsReader.Parse(json, "verdicts.");
        var spec = new VerdictsSpec(
            o.Number("confidence", VerdictsSpec.DefaultConfidence, 0.5, 0.9999, "a number from 0.5 to 0.9999"),
            o.Number("minDifference", 0, 0, 1, "an AUC difference from 0 to 1"),
            o.Number("sanityMaxSimilarity", SanitySpec.Threshold, -1, 1, "a rank correlation from -1 to 1"),
            o.Number("maxSensitivity", VerdictsSpec.DefaultMaxSensitivity, 0, 1e6, "a relative change of the map from 0"),
            o.Number("randomLogitMaxSimilarity", VerdictsSpec.DefaultRandomLogitMaxSimilarity, -1, 1, "an SSIM from -1 to 1"));
        o.RejectUnread();
        return spec;
    }
}
