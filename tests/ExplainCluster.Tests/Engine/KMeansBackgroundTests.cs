using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The k-means background (shap.kmeans): centroids snapped to values the data has, weighted by cluster size, and the
/// coalition methods' games weighted by them.
/// </summary>
public sealed class KMeansBackgroundTests
{
    // Vectors over the linear fixture's groups [a, b, c=x, c=y, c=z].
    private static readonly float[][] TwoClusters =
    [
        [0, 0, 1, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 1, 0],
        [10, 10, 0, 0, 1], [11, 10, 0, 0, 1], [10, 12, 0, 1, 0], [12, 11, 0, 0, 1],
    ];

    private static (float[][] Centroids, double[] Weights) Summarise(int clusters, float[][] rows, long seed = 0)
    {
        var (centroids, weights) = new KMeansBackground(clusters, seed).Summarise(rows.SelectMany(r => r).ToArray(), TableGames.Linear);
        return ([.. centroids.Chunk(5)], weights);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void Summarise_TwoSeparateGroups_SnapsEachFeatureToTheNearestValueSeen(int seed)
    {
        // By hand: the first three rows' mean is [1/3, 1/3, (2/3, 1/3, 0)]: a and b snap to 0 (the nearest a and b seen), c to
        // x (its nearest level); the last four's is [10.75, 10.75, (0, 1/4, 3/4)]: 11, 11 and z. Weights: the clusters' sizes.
        var (centroids, weights) = Summarise(2, TwoClusters, seed);
        var order = Enumerable.Range(0, centroids.Length).OrderBy(k => centroids[k][0]).ToArray();
        Assert.Equal([0f, 0, 1, 0, 0], centroids[order[0]]);
        Assert.Equal([11f, 11, 0, 0, 1], centroids[order[1]]);
        Assert.Equal([3.0, 4.0], order.Select(k => weights[k]));
    }

    [Fact]
    public void Summarise_FewerDistinctRowsThanClusters_GivesEachDistinctRowOnce()
    {
        var (centroids, weights) = Summarise(4, [TwoClusters[0], TwoClusters[3], TwoClusters[0]]);
        Assert.Equal(2, centroids.Length);
        Assert.Equal([(0f, 2.0), (10f, 1.0)], centroids.Select((c, k) => (c[0], weights[k])).OrderBy(p => p.Item1));
    }

    [Fact]
    public void Summarise_AClusterPerDistinctRow_IsTheSampleItselfEquallyWeighted()
    {
        var (centroids, weights) = Summarise(4, TableGames.LinearRows[2..]);
        Assert.Equal(TableGames.LinearRows[2..].OrderBy(r => r[0]).ThenBy(r => r[1]), centroids.OrderBy(r => r[0]).ThenBy(r => r[1]));
        Assert.Equal([1.0, 1, 1, 1], weights);
    }

    [Theory]
    [InlineData(KernelShap.MethodName, """{ "samples": 6 }""")]        // every coalition of 3 features
    [InlineData(PermutationShap.MethodName, """{ "permutations": 1 }""")]
    public void Attribute_LinearModelOnAWeightedKMeansBackground_EqualsWTimesXMinusTheWeightedCentroidMean(string method, string options)
    {
        using var model = TinyModels.Load("tabular/tabular_linear.pt");
        var (rows, sample) = (TableGames.LinearRows[..2], TableGames.LinearRows[2..]);
        // By hand: rows 2 and 4 ([3, −0.25, z], [2.5, 0, z]) make one cluster, whose mean [2.75, −0.125, z] snaps to row 2's a and b (the first of two
        // equally near); rows 3 and 5 a cluster each.
        var (centroids, weights) = Summarise(3, sample);
        var big = Array.IndexOf(weights, 2.0);
        Assert.Equal([1.0, 1.0, 2.0], weights.Order());
        Assert.Equal(sample[0], centroids[big]);
        var shares = weights.Select(w => w / weights.Sum()).ToArray();

        long[] targets = [0, 1];
        var attribution = MethodRegistry.Create(new MethodSpec(method, null, options), table: true);
        var maps = TableGames.Run(attribution, model, rows, TableGames.Linear, centroids, targets, weights: shares).Maps;
        for (var i = 0; i < rows.Length; i++)
        {
            var w = TableGames.LinearW[targets[i]];
            double Part(int e) => w[e] * (rows[i][e] - centroids.Select((c, k) => shares[k] * c[e]).Sum());
            Assert.Equal(Part(0), maps[i * 3], 1e-6);
            Assert.Equal(Part(1), maps[i * 3 + 1], 1e-6);
            Assert.Equal(Part(2) + Part(3) + Part(4), maps[i * 3 + 2], 1e-6);
        }
        // Not the plain mean of the centroids: the weights matter here.
        Assert.NotEqual(rows[0][0] - centroids.Average(c => (double)c[0]), maps[0], 3);
    }
}
