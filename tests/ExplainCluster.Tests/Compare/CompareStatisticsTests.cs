using ExplainCluster.Engine.Compare;

namespace ExplainCluster.Tests.Compare;

/// <summary>The comparison's measures on values small enough to work out by hand.</summary>
public class CompareStatisticsTests
{
    [Fact]
    public void Spearman_ByHand_OnMagnitudesWithTies()
    {
        // |a| = 1, 2, 3, 4 → ranks 1..4; |b| = 4, 3, 3, 1 → ranks 4, 2.5, 2.5, 1.
        // d = r_a − 2.5 = −1.5, −0.5, 0.5, 1.5; e = r_b − 2.5 = 1.5, 0, 0, −1.5: Σde = −4.5, Σd² = 5, Σe² = 4.5.
        float[] a = [1, -2, 3, -4], b = [-4, 3, -3, 1];
        Assert.Equal(-4.5 / Math.Sqrt(5 * 4.5), MapAgreement.Spearman(a, b), 12);
        Assert.Equal(1, MapAgreement.Spearman(a, [2, -4, 6, -8]), 12); // a scaling, signs flipped: the same ranking of |v|
        Assert.Equal(1, MapAgreement.Spearman([0, 0], [5, 5]));
    }

    [Fact]
    public void TopOverlap_ByHand()
    {
        // 10 values, top 10 % = 1 each: a's top is index 9, b's index 0 → IoU 0; top 30 % = 3: {7,8,9} vs {0,8,9} → 2/4.
        float[] a = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], b = [9, 1, 2, 3, 4, 5, 6, 0, 8, 8.5f];
        Assert.Equal(0, MapAgreement.TopOverlap(a, b, 0.1));
        Assert.Equal(0.5, MapAgreement.TopOverlap(a, b, 0.3));
        Assert.Equal(1, MapAgreement.TopOverlap(a, a, 0.3));
    }

    [Fact]
    public void Ndcg_ByHand()
    {
        // Relevance 3, 2, 1; ranked by the scores as 1, 2, 3 (reversed): DCG = 1 + 2/log2 3 + 3/2; ideal = 3 + 2/log2 3 + 1/2.
        double[] relevance = [3, 2, 1], reversed = [1, 2, 3];
        Assert.Equal((1 + 2 / Math.Log2(3) + 1.5) / (3 + 2 / Math.Log2(3) + 0.5), MapAgreement.Ndcg(relevance, reversed), 12);
        Assert.Equal(1, MapAgreement.Ndcg(relevance, relevance), 12);
    }

    [Fact]
    public void Intervals_ByHand()
    {
        // Wilson 8 of 10: centre (0.8 + 1.96²/20) / (1 + 1.96²/10), the textbook 0.4902 to 0.9433.
        var w = CompareStatistics.Wilson(8, 10);
        Assert.Equal(0.8, w.Value);
        Assert.Equal(0.4902, w.Low, 4);
        Assert.Equal(0.9433, w.High, 4);
        // McNemar exact: b = 1, c = 5 → 2 · P(X ≤ 1), X ~ Bin(6, ½) = 2 · 7/64.
        Assert.Equal(14 / 64.0, CompareStatistics.McNemar(1, 5), 12);
        Assert.Equal(1, CompareStatistics.McNemar(3, 3));
        // Paired: d = 1, 0, 0, −1, 1 → mean 0.2, s² = (3 − 5·0.04)/4 = 0.7.
        var d = CompareStatistics.Paired(5, 1, 3);
        Assert.Equal(0.2, d.Value, 12);
        Assert.Equal(0.2 - CompareStatistics.Z95 * Math.Sqrt(0.7 / 5), d.Low, 12);
        Assert.Equal(0.5, CompareStatistics.Quantile([0, 1], 0.5));
    }
}
