using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// LIME for images (Ribeiro et al. 2016, as the lime package's LimeImageExplainer): <c>samples</c> random
/// coalitions of segments (row 0 the image itself), the model's target probability (or logit) on each,
/// weighted by the kernel √exp(−d²/width²) of the cosine distance d to the full coalition, then a weighted ridge
/// fit with intercept (LimeBase with every feature). Map: each pixel its segment's weight; columns
/// <c>lime_r2</c> (the surrogate's weighted R², lime's <c>score</c>) and <c>lime_intercept</c>.
/// </summary>
public sealed class Lime(int samples, double kernelWidth, double alpha, Baseline hide, bool probability, long seed, int? maxRows) : IAttributionMethod
{
    public const string MethodName = "lime";

    public long? Seed => seed;

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    public bool UsesSegments => true;

    public IReadOnlyList<string> Columns { get; } = ["lime_r2", "lime_intercept"];

    public MethodOutput Attribute(MethodBatch batch)
    {
        var segments = batch.Segments ?? throw new InvalidOperationException("lime needs the batch's segments");
        var masker = new SegmentMasker(batch.Input, segments, hide);
        var coalitions = Coalitions.Uniform(segments, batch.Indices, samples, seed, batch.Input.device);
        var outputs = masker.Outputs(batch, coalitions, maxRows ?? batch.MaxRows, probability);
        // Cosine distance of a 0/1 row with s of k features on to the all-ones row: 1 − √(s/k) (1 when s = 0, as scikit-learn).
        var distance = (coalitions.sum(2, type: ScalarType.Float64) / segments.CountTensor().unsqueeze(1)).sqrt().OneMinus(); // rooted Scalars (Scalars)
        var weights = (-distance.Squared()).DividedBy(kernelWidth * kernelWidth).exp().sqrt();
        var (coef, intercept) = WeightedLeastSquares.Solve(coalitions, outputs, weights, segments.Absent(), alpha, intercept: true);
        var r2 = WeightedLeastSquares.WeightedR2(coalitions, outputs, weights, coef, intercept);
        return new MethodOutput(segments.Paint(coef), [r2.to(ScalarType.Float32), intercept.to(ScalarType.Float32)]);
    }
}
