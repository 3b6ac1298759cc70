namespace ExplainCluster.Engine.Tabular;

/// <summary>
/// SP-LIME's submodular pick (Ribeiro et al. 2016; lime/submodular_pick.py): from n explanations, B that cover the
/// globally important features. Each explanation keeps its <c>features</c> largest |weights| (lime's
/// <c>num_features</c>, ties to the lower feature index) as its row of W; feature j's global importance is
/// I_j = √Σᵢ|W_ij|; the greedy adds, B times, the explanation whose addition maximises the coverage Σⱼ I_j·[some chosen
/// row has W_ij ≠ 0], ties going to the later row (lime's <c>&gt;=</c> over its candidates in ascending order).
/// </summary>
public static class SubmodularPick
{
    /// <param name="weights">Each explanation's weights, one row per explanation in a fixed order (dataset index).</param>
    /// <param name="count">B; at most the number of explanations are picked.</param>
    /// <param name="features">How many of each explanation's weights W keeps.</param>
    /// <returns>The picked rows in pick order, and the coverage after each pick.</returns>
    public static (int[] Rows, double[] Coverage) Pick(IReadOnlyList<double[]> weights, int count, int features)
    {
        var w = Sparse(weights, features);
        var k = w.Count == 0 ? 0 : w[0].Length;
        var importance = new double[k];
        for (var j = 0; j < k; j++) importance[j] = Math.Sqrt(w.Sum(row => Math.Abs(row[j])));
        var covered = new bool[k];
        var (rows, coverage) = (new List<int>(), new List<double>());
        var remaining = new bool[w.Count];
        Array.Fill(remaining, true);
        for (var step = 0; step < Math.Min(count, w.Count); step++)
        {
            var (best, bestRow) = (0.0, -1);
            for (var i = 0; i < w.Count; i++)
            {
                if (!remaining[i]) continue;
                var current = 0.0;
                for (var j = 0; j < k; j++) current += covered[j] || w[i][j] != 0 ? importance[j] : 0;
                if (current >= best) (best, bestRow) = (current, i);
            }
            remaining[bestRow] = false;
            for (var j = 0; j < k; j++) covered[j] |= w[bestRow][j] != 0;
            rows.Add(bestRow);
            coverage.Add(best);
        }
        return ([.. rows], [.. coverage]);
    }

    /// <summary>W: each row with all but its <paramref name="features"/> largest |weights| set to 0 (lime's <c>as_list</c>).</summary>
    public static List<double[]> Sparse(IReadOnlyList<double[]> weights, int features) =>
    [
        .. weights.Select(row =>
        {
            var kept = Enumerable.Range(0, row.Length).OrderByDescending(j => Math.Abs(row[j])).ThenBy(j => j).Take(features).ToHashSet();
            return row.Select((v, j) => kept.Contains(j) ? v : 0).ToArray();
        }),
    ];
}
