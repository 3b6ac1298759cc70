namespace ExplainCluster.Engine.Compare;

/// <summary>The intervals and tests a comparison reports: closed forms, from counts and sums that merge across shards.</summary>
public static class CompareStatistics
{
    public const double Z95 = 1.959963984540054;

    /// <summary>Wilson's 95 % interval of <paramref name="successes"/> out of <paramref name="n"/>.</summary>
    public static Rate Wilson(long successes, long n)
    {
        if (n == 0) return new Rate(double.NaN, double.NaN, double.NaN, 0);
        var p = successes / (double)n;
        var z2 = Z95 * Z95;
        var centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        var half = Z95 * Math.Sqrt(p * (1 - p) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
        return new Rate(p, Math.Max(0, centre - half), Math.Min(1, centre + half), n);
    }

    /// <summary>
    /// The mean of paired differences d with its normal 95 % interval, from n, Σd and Σd²; the interval is cut to what d can
    /// be (a difference of two 0/1 outcomes is within [−1, 1]: pass those bounds).
    /// </summary>
    public static Difference Paired(long n, double sum, double sumSquares, double min = double.NegativeInfinity, double max = double.PositiveInfinity)
    {
        if (n == 0) return new Difference(double.NaN, double.NaN, double.NaN, 0);
        var mean = sum / n;
        var variance = n > 1 ? Math.Max(0, (sumSquares - n * mean * mean) / (n - 1)) : 0;
        var half = Z95 * Math.Sqrt(variance / n);
        return new Difference(mean, Math.Max(min, mean - half), Math.Min(max, mean + half), n);
    }

    /// <summary>pB − pA of two independent proportions, with Newcombe's hybrid Wilson interval (method 10).</summary>
    public static Difference Unpaired(Rate a, Rate b)
    {
        var d = b.Value - a.Value;
        var low = d - Math.Sqrt(Math.Pow(b.Value - b.Low, 2) + Math.Pow(a.High - a.Value, 2));
        var high = d + Math.Sqrt(Math.Pow(b.High - b.Value, 2) + Math.Pow(a.Value - a.Low, 2));
        return new Difference(d, low, high, Math.Min(a.N, b.N));
    }

    /// <summary>
    /// B − A of two independent means given as estimates with their intervals: the interval's half-width is the two
    /// half-widths in quadrature (normal approximation); NaN where either has no value or no interval.
    /// </summary>
    public static Difference Unpaired(Stats.Estimate a, Stats.Estimate b)
    {
        if (a.Value is not { } va || b.Value is not { } vb) return new Difference(double.NaN, double.NaN, double.NaN, Math.Min(a.N, b.N));
        var d = vb - va;
        var half = a.Low is { } la && a.High is { } ha && b.Low is { } lb && b.High is { } hb
            ? Math.Sqrt(Math.Pow((ha - la) / 2, 2) + Math.Pow((hb - lb) / 2, 2)) : double.NaN;
        return new Difference(d, d - half, d + half, Math.Min(a.N, b.N));
    }

    /// <summary>McNemar's exact two-sided p-value from the discordant counts (binomial with p = ½ on b + c).</summary>
    public static double McNemar(long b, long c)
    {
        var m = b + c;
        if (m == 0) return 1;
        var k = Math.Min(b, c);
        // P(X ≤ k) for X ~ Binomial(m, ½), summed in log space so a million discordant samples do not underflow term by term.
        var logHalf = m * Math.Log(0.5);
        double tail = 0, logTerm = logHalf; // log C(m, 0) · ½^m
        for (long i = 0; i <= k; i++)
        {
            tail += Math.Exp(logTerm);
            logTerm += Math.Log(m - i) - Math.Log(i + 1);
        }
        return Math.Min(1, 2 * tail);
    }

    /// <summary>The spread of per-sample values (sorted in place): mean with its 95 % interval, median, 10th and 90th percentiles.</summary>
    public static Spread Spread(double[] values)
    {
        var n = values.Length;
        if (n == 0) return new Spread(double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, 0);
        double sum = 0, squares = 0;
        foreach (var v in values) { sum += v; squares += v * v; }
        var mean = Paired(n, sum, squares);
        Array.Sort(values);
        return new Spread(mean.Value, mean.Low, mean.High, Quantile(values, 0.5), Quantile(values, 0.1), Quantile(values, 0.9), n);
    }

    /// <summary>The q-quantile of sorted values, linear between order statistics (numpy's default).</summary>
    public static double Quantile(double[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
    }
}
