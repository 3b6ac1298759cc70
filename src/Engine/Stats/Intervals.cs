namespace ExplainCluster.Engine.Stats;

/// <summary>
/// An estimate with its two-sided interval and the number of samples behind it, as summary.json writes every figure
/// that comes from samples: <c>{value, low, high, n}</c>. <see cref="Low"/> and <see cref="High"/> are null where the
/// samples cannot give an interval (n &lt; 2 for a mean); <see cref="Value"/> is null without samples.
/// </summary>
public sealed record Estimate(double? Value, double? Low, double? High, long N)
{
    public static Estimate None { get; } = new(null, null, null, 0);
}

/// <summary>
/// Closed-form intervals from sums that merge across shards, so every interval is the same bit for bit however a job
/// was sharded: Wilson's score interval for a proportion (it stays inside [0, 1] and behaves at 0 and n successes,
/// where the normal interval does not), the normal interval of a mean from (n, Σx, Σx²), and the stratified estimate of
/// a subset drawn by stratum and reweighted to the dataset's strata.
/// </summary>
public static class Intervals
{
    public const double DefaultConfidence = Contracts.VerdictsSpec.DefaultConfidence;

    /// <summary>The two-sided normal quantile of <paramref name="confidence"/> (1.959964 at 0.95).</summary>
    public static double Z(double confidence)
    {
        if (!(confidence > 0 && confidence < 1)) throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "a confidence in (0, 1)");
        return NormalQuantile(0.5 + confidence / 2);
    }

    /// <summary>Wilson's score interval of <paramref name="successes"/> out of <paramref name="n"/>.</summary>
    public static Estimate Wilson(long successes, long n, double confidence = DefaultConfidence) =>
        n == 0 ? Estimate.None : Wilson((double)successes / n, n, n, confidence);

    /// <summary>
    /// Wilson's interval of a proportion <paramref name="p"/> estimated with the precision of <paramref name="effectiveN"/>
    /// independent samples (a weighted proportion: Kish's effective n); <paramref name="n"/> is the samples counted.
    /// </summary>
    public static Estimate Wilson(double p, double effectiveN, long n, double confidence = DefaultConfidence)
    {
        if (n == 0 || effectiveN <= 0) return Estimate.None;
        var z = Z(confidence);
        var z2 = z * z;
        var centre = (p + z2 / (2 * effectiveN)) / (1 + z2 / effectiveN);
        var half = z / (1 + z2 / effectiveN) * Math.Sqrt(p * (1 - p) / effectiveN + z2 / (4 * effectiveN * effectiveN));
        return new Estimate(p, Math.Max(0, centre - half), Math.Min(1, centre + half), n);
    }

    /// <summary>The mean of n values from Σx and Σx², with its normal interval (sample standard deviation; none for n &lt; 2).</summary>
    public static Estimate Mean(long n, double sum, double squares, double confidence = DefaultConfidence)
    {
        if (n == 0) return Estimate.None;
        var mean = sum / n;
        if (n < 2) return new Estimate(mean, null, null, n);
        var half = Z(confidence) * Math.Sqrt(Variance(n, sum, squares) / n);
        return new Estimate(mean, mean - half, mean + half, n);
    }

    /// <summary>
    /// The mean over the dataset estimated from a subset drawn by stratum: each stratum's subset mean weighted by the
    /// stratum's share of the dataset, W_h = N_h / N (the same as weighting each sample by N_h / n_h), with the
    /// stratified variance Σ W_h² s_h² / n_h. A stratum with one sample takes the pooled within-stratum variance, or when
    /// every stratum has one (a subset of one per stratum) the subset's whole variance, which the differences between
    /// strata make larger (so the interval errs wide); strata the subset missed are left out and the weights renormalised
    /// over those it has.
    /// </summary>
    /// <param name="subset">Per stratum, the subset's (n, Σx, Σx²).</param>
    /// <param name="dataset">Per stratum, how many samples of the dataset it has (N_h).</param>
    public static Estimate Reweighted(IReadOnlyList<MomentSums> subset, IReadOnlyList<long> dataset, double confidence = DefaultConfidence)
    {
        if (subset.Count != dataset.Count) throw new ArgumentException($"{subset.Count} subset strata against {dataset.Count} dataset strata");
        var covered = Enumerable.Range(0, subset.Count).Where(h => subset[h].Count > 0 && dataset[h] > 0).ToArray();
        var n = subset.Sum(s => s.Count);
        if (covered.Length == 0) return new Estimate(null, null, null, n);
        double total = covered.Sum(h => dataset[h]);
        var pooledDegrees = covered.Sum(h => subset[h].Count - 1);
        var all = covered.Aggregate(default(MomentSums), (a, h) => a.Add(subset[h]));
        var pooled = pooledDegrees > 0 ? covered.Sum(h => Math.Max(0, subset[h].Squares - subset[h].Sum * subset[h].Sum / subset[h].Count)) / pooledDegrees
            : all.Count > 1 ? Variance(all.Count, all.Sum, all.Squares) : double.NaN;
        double mean = 0, variance = 0;
        foreach (var h in covered)
        {
            var (w, s) = (dataset[h] / total, subset[h]);
            mean += w * s.Sum / s.Count;
            variance += w * w * (s.Count > 1 ? Variance(s.Count, s.Sum, s.Squares) : pooled) / s.Count;
        }
        if (double.IsNaN(variance)) return new Estimate(mean, null, null, n);
        var half = Z(confidence) * Math.Sqrt(variance);
        return new Estimate(mean, mean - half, mean + half, n);
    }

    /// <summary>
    /// A proportion over the dataset from a subset drawn by stratum (successes and count per stratum), reweighted as in
    /// <see cref="Reweighted"/>, with Wilson's interval at Kish's effective sample size (Σw)² / Σw², w = N_h / n_h per sample.
    /// </summary>
    public static Estimate ReweightedProportion(IReadOnlyList<(long Successes, long Count)> subset, IReadOnlyList<long> dataset, double confidence = DefaultConfidence)
    {
        if (subset.Count != dataset.Count) throw new ArgumentException($"{subset.Count} subset strata against {dataset.Count} dataset strata");
        var covered = Enumerable.Range(0, subset.Count).Where(h => subset[h].Count > 0 && dataset[h] > 0).ToArray();
        var n = subset.Sum(s => s.Count);
        if (covered.Length == 0) return new Estimate(null, null, null, n);
        double total = covered.Sum(h => dataset[h]);
        var p = covered.Sum(h => dataset[h] / total * subset[h].Successes / subset[h].Count);
        // Σw = N; Σw² = Σ_h n_h (N_h / n_h)² = Σ_h N_h² / n_h.
        var effective = total * total / covered.Sum(h => (double)dataset[h] * dataset[h] / subset[h].Count);
        return Wilson(p, effective, n, confidence);
    }

    /// <summary>The sample variance from (n, Σx, Σx²), never below 0 (rounding can make the difference negative).</summary>
    public static double Variance(long n, double sum, double squares) => Math.Max(0, (squares - sum * sum / n) / (n - 1));

    /// <summary>
    /// The standard normal quantile: Acklam's rational approximation (relative error under 1.2e-9), refined by one
    /// Halley step on <see cref="NormalCdf"/>, which leaves it exact to about 1e-13.
    /// </summary>
    private static double NormalQuantile(double p)
    {
        double[] a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00];
        double[] b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01];
        double[] c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00];
        double[] d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
        const double low = 0.02425;
        double x;
        if (p < low)
        {
            var q = Math.Sqrt(-2 * Math.Log(p));
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        else if (p <= 1 - low)
        {
            var q = p - 0.5;
            var r = q * q;
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
        }
        else
        {
            var q = Math.Sqrt(-2 * Math.Log(1 - p));
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        var u = (NormalCdf(x) - p) * Math.Sqrt(2 * Math.PI) * Math.Exp(x * x / 2);
        return x - u / (1 + x * u / 2);
    }

    /// <summary>
    /// Φ(x) = 1/2 + φ(x) Σ_k x^(2k+1) / (2k+1)!! (Marsaglia's series): every term is positive, so it converges without
    /// cancellation to an absolute error near 1e-15 for the |x| &lt; 8 that any confidence a job may ask for gives.
    /// </summary>
    private static double NormalCdf(double x)
    {
        double sum = x, term = x;
        for (var k = 1; k < 500 && Math.Abs(term) > 1e-17 * Math.Abs(sum); k++)
        {
            term *= x * x / (2 * k + 1);
            sum += term;
        }
        return 0.5 + sum * Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
    }
}

/// <summary>Mergeable sums of a value over samples: n, Σx, Σx².</summary>
public readonly record struct MomentSums(long Count, double Sum, double Squares)
{
    public MomentSums Add(double x) => new(Count + 1, Sum + x, Squares + x * x);

    public MomentSums Add(MomentSums other) => new(Count + other.Count, Sum + other.Sum, Squares + other.Squares);
}
