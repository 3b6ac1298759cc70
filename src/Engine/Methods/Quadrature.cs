namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Nodes α ∈ [0, 1] and weights of ∫₀¹ f(α) dα ≈ Σ wₖ f(αₖ), with Captum's names and node placement
/// (captum.attr._utils.approximation_methods): the four Riemann rules and Gauss–Legendre.
/// </summary>
public static class Quadrature
{
    public const string GaussLegendre = "gausslegendre";
    public static readonly string[] Rules = [GaussLegendre, "riemann_trapezoid", "riemann_left", "riemann_right", "riemann_middle"];

    public static (double[] Alphas, double[] Weights) Nodes(string rule, int steps)
    {
        var n = steps;
        double[] Fill(Func<int, double> f) => [.. Enumerable.Range(0, n).Select(f)];
        return rule switch
        {
            "riemann_left" => (Fill(k => (double)k / n), Fill(_ => 1.0 / n)),
            "riemann_right" => (Fill(k => (k + 1.0) / n), Fill(_ => 1.0 / n)),
            "riemann_middle" => (Fill(k => (k + 0.5) / n), Fill(_ => 1.0 / n)),
            "riemann_trapezoid" when n >= 2 => (Fill(k => (double)k / (n - 1)), Fill(k => (k == 0 || k == n - 1 ? 0.5 : 1.0) / (n - 1))),
            "riemann_trapezoid" => throw new ExplainException("riemann_trapezoid needs at least 2 steps"),
            GaussLegendre => Legendre(n),
            _ => throw new ArgumentException($"unknown quadrature '{rule}'", nameof(rule)),
        };
    }

    /// <summary>numpy.polynomial.legendre.leggauss(n) mapped from [−1, 1] to [0, 1]: α = (x + 1)/2, w/2; ascending.</summary>
    private static (double[] Alphas, double[] Weights) Legendre(int n)
    {
        var alphas = new double[n];
        var weights = new double[n];
        for (var i = 0; i < n; i++)
        {
            // Newton's method on Pₙ from the Chebyshev-like guess for the i-th largest root.
            var x = Math.Cos(Math.PI * (i + 0.75) / (n + 0.5));
            double derivative = 0;
            for (var iteration = 0; iteration < 100; iteration++)
            {
                var (p, previous) = (1.0, 0.0);
                for (var k = 1; k <= n; k++) (p, previous) = (((2 * k - 1) * x * p - (k - 1) * previous) / k, p);
                derivative = n * (x * p - previous) / (x * x - 1);
                var step = p / derivative;
                x -= step;
                if (Math.Abs(step) < 1e-15) break;
            }
            // Roots come largest first; store ascending.
            alphas[n - 1 - i] = (x + 1) / 2;
            weights[n - 1 - i] = 1 / ((1 - x * x) * derivative * derivative);
        }
        return (alphas, weights);
    }
}
