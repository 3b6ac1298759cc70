using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Tests.Engine;

/// <summary>The intervals every figure of the summary carries, against hand computations (Python's statistics.NormalDist for z).</summary>
public class IntervalsTests
{
    [Theory]
    [InlineData(0.95, 1.959963984540054)]
    [InlineData(0.90, 1.6448536269514715)]
    [InlineData(0.99, 2.5758293035489)]
    public void Z_KnownConfidences_GiveTheNormalQuantile(double confidence, double z) => Assert.Equal(z, Intervals.Z(confidence), 12);

    [Theory]
    [InlineData(8, 10, 0.49016247153664183, 0.9433178485456247)]
    [InlineData(3, 4, 0.300641842582402, 0.9544127391902995)]
    [InlineData(0, 5, 0, 0.43448246478317465)] // z² / (n + z²): the normal interval would be [0, 0]
    [InlineData(8825, 10000, 0.876041242566673, 0.8886649986797592)] // the demo's accuracy
    public void Wilson_HandCounts_GiveTheScoreInterval(long successes, long n, double low, double high)
    {
        var e = Intervals.Wilson(successes, n);
        Assert.Equal((double)successes / n, e.Value!.Value, 12);
        Assert.Equal(low, e.Low!.Value, 8);
        Assert.Equal(high, e.High!.Value, 8);
        Assert.Equal(n, e.N);
    }

    [Fact]
    public void Wilson_NoSamples_HasNoValue() => Assert.Equal(Estimate.None, Intervals.Wilson(0, 0));

    [Fact]
    public void Mean_FromSums_IsTheNormalIntervalWithTheSampleDeviation()
    {
        // 1, 2, 3, 4: mean 2.5, s² = 5/3, half-width 1.959964 · √(5/3 / 4).
        var e = Intervals.Mean(4, 10, 30);
        Assert.Equal(2.5, e.Value);
        var half = 1.959963984540054 * Math.Sqrt(5.0 / 3 / 4);
        Assert.Equal(2.5 - half, e.Low!.Value, 8);
        Assert.Equal(2.5 + half, e.High!.Value, 8);
        Assert.Equal(new Estimate(7, null, null, 1), Intervals.Mean(1, 7, 49)); // one value: no interval
    }

    [Fact]
    public void Reweighted_TwoStrata_WeighsEachStratumByItsShareOfTheDataset()
    {
        // Stratum A (90 of the dataset's 100) sampled 1, 3: mean 2, s² 2; stratum B (10) sampled 10, 14: mean 12, s² 8.
        // Reweighted: 0.9·2 + 0.1·12 = 3 (the subset's plain mean is 7); variance 0.81·2/2 + 0.01·8/2 = 0.85.
        MomentSums[] subset = [new(2, 4, 10), new(2, 24, 296)];
        var e = Intervals.Reweighted(subset, [90, 10]);
        Assert.Equal(3, e.Value!.Value, 12);
        Assert.Equal(3 - 1.8069975090159938, e.Low!.Value, 8);
        Assert.Equal(3 + 1.8069975090159938, e.High!.Value, 8);
        Assert.Equal(4, e.N);
    }

    [Fact]
    public void Reweighted_OneSamplePerStratum_TakesTheSubsetsWholeVariance()
    {
        // 1 (N 30), 3 (N 10): mean 0.75·1 + 0.25·3 = 1.5; s² of {1, 3} = 2, so variance (0.75² + 0.25²) · 2 / 1 = 1.25.
        var e = Intervals.Reweighted([new(1, 1, 1), new(1, 3, 9)], [30, 10]);
        Assert.Equal(1.5, e.Value!.Value, 12);
        Assert.Equal(1.5 + 1.959963984540054 * Math.Sqrt(1.25), e.High!.Value, 8);
    }

    [Fact]
    public void ReweightedProportion_TwoStrata_IsWilsonAtKishsEffectiveN()
    {
        // A (90): 1 of 2; B (10): 2 of 2 → 0.9·0.5 + 0.1·1 = 0.55 (the subset's plain share is 0.75);
        // effective n = 100² / (90²/2 + 10²/2) = 2.439.
        var e = Intervals.ReweightedProportion([(1, 2), (2, 2)], [90, 10]);
        Assert.Equal(0.55, e.Value!.Value, 12);
        Assert.Equal(0.12913718712052763, e.Low!.Value, 8);
        Assert.Equal(0.9096977927421066, e.High!.Value, 8);
    }

    [Fact]
    public void Reweighted_ProportionalSubset_EqualsThePlainEstimate()
    {
        // A subset drawn in the dataset's proportions needs no reweighting: both paths agree.
        var plain = Intervals.Wilson(6, 10);
        var reweighted = Intervals.ReweightedProportion([(4, 6), (2, 4)], [600, 400]);
        Assert.Equal(plain.Value!.Value, reweighted.Value!.Value, 12);
        Assert.Equal(plain.Low!.Value, reweighted.Low!.Value, 10);
        Assert.Equal(plain.High!.Value, reweighted.High!.Value, 10);
    }
}
