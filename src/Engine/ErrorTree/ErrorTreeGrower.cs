namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// A column the tree may split on: a numeric feature cut at <see cref="Edges"/> (the model's encoded units; bin b holds
/// the values above edge b − 1 and at most edge b), or a categorical feature or metadata column by its <see cref="Levels"/>.
/// <see cref="Mean"/> and <see cref="Std"/> turn an edge back into the column's own units (a standardized feature's).
/// </summary>
public sealed record TreeColumn(string Name, double[]? Edges, string[]? Levels, double Mean = 0, double Std = 1)
{
    public int Bins => Edges is { } e ? e.Length + 1 : Levels!.Length;

    /// <summary>A value's bin: how many edges lie below it.</summary>
    public int BinOf(double value)
    {
        var (lo, hi) = (0, Edges!.Length);
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (Edges[mid] < value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Edge <paramref name="b"/> in the column's own units.</summary>
    public double Raw(int b) => Mean + Std * Edges![b];
}

/// <summary>
/// How a node splits: on a numeric column, bins ≤ <see cref="Threshold"/> go left; on a categorical one, the levels in
/// <see cref="Left"/> go left. <see cref="Gain"/> is LightGBM's split gain up to its constant factor.
/// </summary>
public sealed record TreeSplit(int Column, int Threshold, bool[]? Left, double Gain);

/// <summary>A node of the grown tree: its samples, misclassified ones, its split (null: a leaf) and the cells it holds.</summary>
public sealed record TreeNode(int Depth, long N, long Errors, int[] Cells, TreeSplit? Split = null, TreeNode? LeftChild = null, TreeNode? RightChild = null);

/// <summary>
/// Grows the error tree from histograms, as RAI's error analysis does with LightGBM (one tree of a binary classifier on
/// "misclassified", <c>n_estimators=1</c>): every sample's gradient is p₀ − y (p₀ the whole table's error rate, LightGBM's
/// boost from average) and its hessian p₀(1 − p₀), so a split's gain, G_L²/H_L + G_R²/H_R − G²/H with λ = 0, is
/// (a_L²/n_L + a_R²/n_R − a²/n) / (N² p₀(1 − p₀)) with a = n·E − e·N (n samples, e errors; N and E the table's). A node splits
/// on the candidate with the largest gain when it is below the depth, each side keeps at least <c>minLeaf</c> samples, and
/// the sides' error rates differ (a positive gain, counted exactly); equal gains go to the earlier column, then the lower
/// threshold. A numeric column's candidates are its bin edges; a categorical column's are LightGBM's many-vs-many: its levels
/// present in the node ordered by error rate (then by level), each prefix against the rest (LightGBM's smoothing,
/// <c>cat_smooth</c> and <c>min_data_per_group</c>, left out). Per node, per column, per bin the counts and errors are a
/// histogram, integers only. <see cref="BestSplit"/> is the choice the job's tree pass makes from the shards' histograms
/// (<see cref="ErrorTreeGrowth"/>); <see cref="Grow"/> grows a whole table's rows (or cells of equal rows) at once, the plain
/// grower the tests hold the level-by-level tree to.
/// </summary>
public static class ErrorTreeGrower
{
    /// <param name="codes">Per cell, its bin or level in each column.</param>
    public static TreeNode Grow(TreeColumn[] columns, int[][] codes, long[] counts, long[] errors, int depth, int minLeaf)
    {
        var (n, e) = (counts.Sum(), errors.Sum());
        return Node([.. Enumerable.Range(0, codes.Length)], 0);

        TreeNode Node(int[] cells, int level)
        {
            var (nodeN, nodeE) = (cells.Sum(c => counts[c]), cells.Sum(c => errors[c]));
            var split = level < depth ? Best(cells, nodeN, nodeE) : null;
            if (split is null) return new TreeNode(level, nodeN, nodeE, cells);
            var left = cells.Where(c => GoesLeft(split, codes[c])).ToArray();
            var right = cells.Where(c => !GoesLeft(split, codes[c])).ToArray();
            return new TreeNode(level, nodeN, nodeE, cells, split, Node(left, level + 1), Node(right, level + 1));
        }

        TreeSplit? Best(int[] cells, long nodeN, long nodeE)
        {
            var hn = columns.Select(c => new long[c.Bins]).ToArray();
            var he = columns.Select(c => new long[c.Bins]).ToArray();
            foreach (var cell in cells)
                for (var c = 0; c < columns.Length; c++)
                {
                    hn[c][codes[cell][c]] += counts[cell];
                    he[c][codes[cell][c]] += errors[cell];
                }
            return BestSplit(columns, hn, he, nodeN, nodeE, n, e, minLeaf);
        }
    }

    /// <summary>
    /// A node's best split from its histograms (<paramref name="hn"/>, <paramref name="he"/>: per column, per bin, its samples and
    /// errors), the table's <paramref name="n"/> samples and <paramref name="e"/> errors; null when no candidate keeps
    /// <paramref name="minLeaf"/> samples a side with a positive gain. Equal gains go to the earlier column, then the lower threshold.
    /// </summary>
    public static TreeSplit? BestSplit(TreeColumn[] columns, long[][] hn, long[][] he, long nodeN, long nodeE, long n, long e, int minLeaf)
    {
        TreeSplit? best = null;
        for (var c = 0; c < columns.Length; c++)
        {
            var (cn, ce) = (hn[c], he[c]);
            // The bins in scan order: a numeric column's in order, a categorical column's present levels by error rate.
            var order = columns[c].Edges is not null ? [.. Enumerable.Range(0, cn.Length)]
                : Enumerable.Range(0, cn.Length).Where(b => cn[b] > 0).Order(Comparer<int>.Create((x, y) =>
                    (ce[x] * cn[y]).CompareTo(ce[y] * cn[x]) is var r and not 0 ? r : x.CompareTo(y))).ToArray();
            var (ln, le) = (0L, 0L);
            for (var k = 0; k < order.Length - 1; k++)
            {
                (ln, le) = (ln + cn[order[k]], le + ce[order[k]]);
                var (rn, re) = (nodeN - ln, nodeE - le);
                if (ln < minLeaf || rn < minLeaf || le * rn == re * ln) continue;
                var gain = Score(ln, le) + Score(rn, re) - Score(nodeN, nodeE);
                if (best is not null && gain <= best.Gain) continue;
                best = columns[c].Edges is not null ? new TreeSplit(c, order[k], null, gain)
                    : new TreeSplit(c, -1, [.. Enumerable.Range(0, cn.Length).Select(b => order.Take(k + 1).Contains(b))], gain);
            }
        }
        return best;

        double Score(long sn, long se)
        {
            double a = sn * e - se * n;
            return a * a / sn;
        }
    }

    public static bool GoesLeft(TreeSplit split, int[] codes) =>
        split.Left is { } set ? set[codes[split.Column]] : codes[split.Column] <= split.Threshold;

    /// <summary>
    /// A numeric column's edges from the exact distribution of its values (each distinct value with its count): with at most
    /// <paramref name="bins"/> distinct values, midway between each two; else at the k/bins quantiles (k = 1 … bins − 1),
    /// each midway between the value where the cumulative count reaches k·N/bins and the next, as LightGBM's bin mapper puts
    /// its bounds between distinct values.
    /// </summary>
    public static double[] Edges(IReadOnlyList<(double Value, long Count)> distinct, int bins)
    {
        var edges = new List<double>();
        if (distinct.Count <= bins)
        {
            for (var j = 0; j + 1 < distinct.Count; j++) edges.Add(Midway(distinct[j].Value, distinct[j + 1].Value));
            return [.. edges];
        }
        var total = distinct.Sum(d => d.Count);
        var (cumulative, at) = (0L, 0);
        for (var k = 1; k < bins; k++)
        {
            while (at < distinct.Count && (cumulative + distinct[at].Count) * bins < k * total) cumulative += distinct[at++].Count;
            if (at + 1 >= distinct.Count) break;
            var edge = Midway(distinct[at].Value, distinct[at + 1].Value);
            if (edges.Count == 0 || edges[^1] < edge) edges.Add(edge);
        }
        return [.. edges];
    }

    private static double Midway(double a, double b) => a + (b - a) / 2;
}
