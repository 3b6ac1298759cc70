using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Trust;
using ExplainCluster.Engine.Verdicts;

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

    [Theory]
    [InlineData(0.5, 0.5, "robust", "passed")]
    [InlineData(0.2, 0.3, "sensitive", "failed")]
    public void Verdicts_TrustMetrics_AreJudgedByTheJobsThresholds(double maxSensitivity, double maxSimilarity, string robustness, string randomLogit)
    {
        // Four samples of one class: mean max-sensitivity 0.3, random-logit SSIM 0.4; ROAD's (LeRF − MoRF)/2 0.1 ± little for
        // "steady" (faithful) and ±0.3 around 0 for "noisy" (inconclusive).
        const int n = 4;
        var faithfulness = new FaithfulnessResult(1, [.. new[] { "steady", "noisy", "random" }.Select(m =>
            new OrderingResult(m, new double[2 * n], new double[2 * n], [0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]))]);
        var trust = new TrustResult(["max_sensitivity", "random_logit", "road"],
        [
            new("steady", [[0.2, 0.4, 0.3, 0.3], [0.4, 0.4, 0.3, 0.5], [0.1, 0.11, 0.09, 0.1]]),
            new("noisy", [[0.2, 0.4, 0.3, 0.3], [0.4, 0.4, 0.3, 0.5], [0.3, -0.3, 0.3, -0.2]]),
        ]);
        var result = new ShardResult(0, n, 1, null, new long[n], new float[n], new int[n], new float[n], null, [], 0, faithfulness, Trust: trust);
        var outcome = new ShardOutcome(new ShardSpec(0, 0, n), result, new ShardData(0, n, [], null, [1]), 1, [], [n]);
        var builder = new SummaryBuilder();
        builder.Settings.Use(new VerdictsSpec(MaxSensitivity: maxSensitivity, RandomLogitMaxSimilarity: maxSimilarity));
        builder.Add(new ShardPartial(0, n, "silo", 0, [n], [VerdictsFeature.Instance.Pack(VerdictsFeature.Instance.Compute(outcome)!),
            TrustFeature.Instance.Pack(TrustFeature.Instance.Compute(outcome)!)], 1));
        var verdicts = builder.Build(null).Summary.Verdicts!;
        var (steady, noisy) = (verdicts.Methods["steady"], verdicts.Methods["noisy"]);
        Assert.Equal((robustness, randomLogit), (steady.Robustness, steady.RandomLogit));
        Assert.Equal(VerdictsFeature.Faithful, steady.Road);
        Assert.Equal(VerdictsFeature.Inconclusive, noisy.Road);
        Assert.Equal(0.1, steady.RoadGain!.Mean!.Value, 12);
        Assert.Equal((maxSensitivity, maxSimilarity), (verdicts.MaxSensitivity, verdicts.RandomLogitMaxSimilarity));
    }
}
