namespace ExplainCluster.Engine.Compare;

/// <summary>
/// How far two explanations of one sample agree, on the magnitudes |v| (which pixels matter, whatever their sign): the
/// Spearman rank correlation and the overlap (IoU) of the top fraction of pixels; and how far two global importances agree
/// (nDCG, SageMaker Clarify's convention for attribution drift).
/// </summary>
public static class MapAgreement
{
    /// <summary>Spearman's ρ of |a| and |b| (average ranks for ties, as the sanity check's); 1 when both are constant (nothing to rank differs), 0 when one is.</summary>
    public static double Spearman(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"maps of {a.Length} and {b.Length} values");
        var (absA, absB) = (Abs(a), Abs(b));
        return Constant(absA) && Constant(absB) ? 1 : Sanity.SanityCheck.Spearman(absA, absB);
    }

    /// <summary>|top(a) ∩ top(b)| / |top(a) ∪ top(b)|, top being the ⌈fraction · n⌉ largest |v| (ties to the lower index).</summary>
    public static double TopOverlap(ReadOnlySpan<float> a, ReadOnlySpan<float> b, double fraction = 0.1)
    {
        var k = Math.Max(1, (int)Math.Ceiling(fraction * a.Length));
        var (ta, tb) = (Top(a, k), Top(b, k));
        var both = 0;
        for (var i = 0; i < ta.Length; i++) if (ta[i] && tb[i]) both++;
        return both / (double)(2 * k - both);
    }

    /// <summary>
    /// nDCG of the ranking by <paramref name="scores"/> with gains <paramref name="relevance"/> (both non-negative): 1 when
    /// the scores order the features as the relevance does, lower as the important features move down the ranking.
    /// </summary>
    public static double Ndcg(ReadOnlySpan<double> relevance, ReadOnlySpan<double> scores)
    {
        var byScore = Order(scores);
        var byRelevance = Order(relevance);
        double dcg = 0, ideal = 0;
        for (var i = 0; i < byScore.Length; i++)
        {
            var discount = Math.Log2(i + 2);
            dcg += relevance[byScore[i]] / discount;
            ideal += relevance[byRelevance[i]] / discount;
        }
        return ideal == 0 ? 1 : dcg / ideal;
    }

    /// <summary>Pearson's r of two maps' values; 1 when both are constant and equal, 0 when only one is constant.</summary>
    public static double Pearson(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double ma = 0, mb = 0;
        for (var i = 0; i < a.Length; i++) { ma += a[i]; mb += b[i]; }
        (ma, mb) = (ma / a.Length, mb / a.Length);
        double sab = 0, saa = 0, sbb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var (da, db) = (a[i] - ma, b[i] - mb);
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        if (saa == 0 && sbb == 0) return a.SequenceEqual(b) ? 1 : 0;
        return saa == 0 || sbb == 0 ? 0 : sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>Indices by decreasing value, ties to the lower index.</summary>
    private static int[] Order(ReadOnlySpan<double> values)
    {
        var copy = values.ToArray();
        var order = Enumerable.Range(0, copy.Length).ToArray();
        Array.Sort(order, (x, y) => copy[y].CompareTo(copy[x]) is var c && c != 0 ? c : x.CompareTo(y));
        return order;
    }

    private static float[] Abs(ReadOnlySpan<float> values)
    {
        var abs = new float[values.Length];
        for (var i = 0; i < abs.Length; i++) abs[i] = Math.Abs(values[i]);
        return abs;
    }

    private static bool Constant(float[] values) => values.AsSpan().IndexOfAnyExcept(values[0]) < 0;

    private static bool[] Top(ReadOnlySpan<float> values, int k)
    {
        var abs = Abs(values);
        var order = Enumerable.Range(0, abs.Length).ToArray();
        Array.Sort(order, (x, y) => abs[y].CompareTo(abs[x]) is var c && c != 0 ? c : x.CompareTo(y));
        var top = new bool[abs.Length];
        for (var i = 0; i < k; i++) top[order[i]] = true;
        return top;
    }
}
