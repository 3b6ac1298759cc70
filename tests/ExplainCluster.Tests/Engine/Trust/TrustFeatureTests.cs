using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Trust;

namespace ExplainCluster.Tests.Engine.Trust;

public class TrustFeatureTests
{
    private static TrustResult Result(double[] sparseness, double[] road) =>
        new(["sparseness", "road"], [new TrustMethodResult("saliency", [sparseness, road])]);

    [Fact]
    public void Partial_RoundTripsAndFoldsToTheMeansPerClass()
    {
        // Targets 0, 1, 0, 1; road evaluated on samples 0 and 1 only (NaN elsewhere: outside the subset).
        var first = TrustFeature.Partial(Result([0.2, 0.4, 0.6, 0.8], [0.1, 0.3, double.NaN, double.NaN]), [0, 1, 0, 1], 2);
        var second = TrustFeature.Partial(Result([1.0], [0.5]), [1], 2);
        var feature = TrustFeature.Instance;
        var sums = feature.NewSums(2);
        sums.Fold(feature.Decode(feature.Encode(first), "test"));
        sums.Fold(second);
        var total = new TrustPartial(["sparseness", "road"], [new("saliency", [
            [new MomentSums(2, 0.8, 0.4), new MomentSums(3, 2.2, 0.16 + 0.64 + 1)],
            [new MomentSums(1, 0.1, 0.01), new MomentSums(2, 0.8, 0.34)]])]);
        var expected = TrustFeature.Summary(total, ["a", "b"], 0.95);
        var summary = (TrustSummary)sums.Summarise(new ExplainCluster.Engine.Features.SummaryDraft(["a", "b"], [], _ => null, new()))!;
        var sparseness = summary.Methods["saliency"]["sparseness"];
        Assert.Equal(3.0 / 5, sparseness.Mean.Value!.Value, 12);
        Assert.Equal(5, sparseness.Mean.N);
        Assert.Equal(2.2 / 3, sparseness.PerClass[1].Mean.Value!.Value, 12);
        var road = summary.Methods["saliency"]["road"];
        Assert.Equal(3, road.Mean.N);
        Assert.Equal(0.3, road.Mean.Value!.Value, 12);
        Assert.Equal(expected.Methods["saliency"]["road"].Mean.Low!.Value, road.Mean.Low!.Value, 12);
        Assert.Equal([1L, 2], road.PerClass.Select(c => c.Mean.N));
    }
}
