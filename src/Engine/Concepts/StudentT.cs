namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// Student's two-sample t-test with pooled variance (scipy's <c>ttest_ind</c> default, which Captum's TCAV calls), two-sided:
/// the p-value is the regularised incomplete beta I_{df/(df+t²)}(df/2, 1/2) (continued fraction, Numerical Recipes' betacf).
/// </summary>
public static class StudentT
{
    /// <returns>t (null when both samples have no spread and different means: t is infinite) and the two-sided p-value.</returns>
    public static (double? T, double P) Test(IReadOnlyList<double> a, IReadOnlyList<double> b)
    {
        var (na, nb) = (a.Count, b.Count);
        if (na < 2 || nb < 2) throw new ArgumentException("a t-test needs at least two values on each side");
        var (ma, mb) = (a.Average(), b.Average());
        var ss = a.Sum(x => (x - ma) * (x - ma)) + b.Sum(x => (x - mb) * (x - mb));
        var df = na + nb - 2;
        var se = Math.Sqrt(ss / df * (1.0 / na + 1.0 / nb));
        if (se == 0) return ma == mb ? (0, 1) : (null, 0);
        var t = (ma - mb) / se;
        return (t, TwoSided(t, df));
    }

    /// <summary>P(|T| ≥ |t|) for Student's t with <paramref name="df"/> degrees of freedom.</summary>
    public static double TwoSided(double t, double df) => Math.Clamp(IncompleteBeta(df / 2, 0.5, df / (df + t * t)), 0, 1);

    /// <summary>The regularised incomplete beta function I_x(a, b).</summary>
    public static double IncompleteBeta(double a, double b, double x)
    {
        if (x <= 0) return 0;
        if (x >= 1) return 1;
        var front = Math.Exp(LogGamma(a + b) - LogGamma(a) - LogGamma(b) + a * Math.Log(x) + b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2) ? front * Fraction(a, b, x) / a : 1 - front * Fraction(b, a, 1 - x) / b;
    }

    private static double Fraction(double a, double b, double x)
    {
        const double tiny = 1e-300;
        double c = 1, d = 1 - (a + b) * x / (a + 1);
        d = 1 / (Math.Abs(d) < tiny ? tiny : d);
        var h = d;
        for (var m = 1; m <= 300; m++)
        {
            var m2 = 2 * m;
            var aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + aa * d; d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            h *= d * c;
            aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + aa * d; d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + aa / c; if (Math.Abs(c) < tiny) c = tiny;
            var delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-15) break;
        }
        return h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9: about 15 digits).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        ReadOnlySpan<double> g =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        x -= 1;
        var sum = g[0];
        for (var i = 1; i < 9; i++) sum += g[i] / (x + i);
        var t = x + 7.5;
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(sum);
    }
}
