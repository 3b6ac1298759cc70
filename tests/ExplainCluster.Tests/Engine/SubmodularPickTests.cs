using ExplainCluster.Engine.Tabular;

namespace ExplainCluster.Tests.Engine;

/// <summary>SP-LIME's greedy pick, by hand and against a pick computed here from scratch.</summary>
public sealed class SubmodularPickTests
{
    [Fact]
    public void Pick_HandMadeWeights_CoversTheHeaviestFeaturesFirst()
    {
        // I = √(column sums of |W|) = (√2, √5, 1, √10). Singly: row 2 covers 1 + √10 = 4.16, the most. Then row 3 adds
        // √2 + √5 (7.81 in all), more than row 1 (√5) or row 0 (√2). Everything is covered: rows 0, 1 and 4 tie, and the
        // last of them wins, as lime's `>=` over its candidates in ascending order.
        double[][] w = [[1, 0, 0, 0], [0, 4, 0, 0], [0, 0, 1, 1], [1, 1, 0, 0], [0, 0, 0, 9]];
        var (rows, coverage) = SubmodularPick.Pick(w, 3, features: 4);
        Assert.Equal([2, 3, 4], rows);
        var all = Math.Sqrt(2) + Math.Sqrt(5) + 1 + Math.Sqrt(10);
        Assert.Equal([1 + Math.Sqrt(10), all, all], coverage, (a, b) => Math.Abs(a - b) < 1e-12);
    }

    [Fact]
    public void Pick_RandomWeights_IsTheGreedyOfTheCoverageComputedFromScratch()
    {
        var random = new Random(3);
        for (var trial = 0; trial < 20; trial++)
        {
            // 9 explanations of 6 features, each keeping its 3 largest |weights|; some weights exactly 0.
            var w = Enumerable.Range(0, 9).Select(_ => Enumerable.Range(0, 6).Select(_ => random.Next(4) == 0 ? 0 : random.NextDouble() * 2 - 1).ToArray()).ToArray();
            var sparse = w.Select(row => row.Select((v, j) => row.Select((u, l) => (Math.Abs(u), -l)).OrderDescending().Take(3).Contains((Math.Abs(v), -j)) ? v : 0).ToArray()).ToArray();
            var importance = Enumerable.Range(0, 6).Select(j => Math.Sqrt(sparse.Sum(row => Math.Abs(row[j])))).ToArray();
            double Coverage(IEnumerable<int> set) => Enumerable.Range(0, 6).Sum(j => set.Any(i => sparse[i][j] != 0) ? importance[j] : 0);

            var (rows, coverage) = SubmodularPick.Pick(w, 4, features: 3);
            var chosen = new List<int>();
            for (var step = 0; step < 4; step++)
            {
                // Each step: the candidate with the most coverage, the later one of a tie.
                var best = Enumerable.Range(0, 9).Except(chosen).Select(i => (Value: Coverage([.. chosen, i]), Row: i)).Max();
                Assert.Equal(best.Row, rows[step]);
                Assert.Equal(best.Value, coverage[step], 12);
                chosen.Add(best.Row);
            }
            // The greedy's guarantee: at least (1 − 1/e) of the best set of 4, found by trying all 126.
            var optimum = Subsets(9, 4).Max(Coverage);
            Assert.True(coverage[^1] >= (1 - 1 / Math.E) * optimum - 1e-12);
        }
    }

    private static IEnumerable<int[]> Subsets(int n, int size) =>
        size == 0 ? [[]] : Enumerable.Range(0, n).SelectMany(first => Subsets(n, size - 1).Where(rest => rest.All(r => r > first)).Select(rest => (int[])[first, .. rest]));
}
