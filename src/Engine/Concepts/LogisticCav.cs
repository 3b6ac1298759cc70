namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// The linear classifier behind a CAV: L2-regularised logistic regression, minimising (1/n) Σ log(1 + exp(−yᵢ(w·xᵢ + b))) + (λ/2)‖w‖²
/// with an unregularised bias (so the CAV does not depend on where the activations' origin is), solved exactly by Newton's method
/// with halving steps. By the representer theorem w = Σ αᵢ xᵢ, so the solver works on the examples' Gram matrix (n × n, n the
/// examples of one CAV) whatever the layer's width. Deterministic: no random start (α = 0, b = 0), plain double arithmetic in a
/// fixed order, Gaussian elimination with partial pivoting; the only randomness of TCAV is in which examples are drawn.
/// </summary>
public static class LogisticCav
{
    /// <summary>λ: sklearn's SGDClassifier default alpha, which the TCAV authors' code used.</summary>
    public const double Lambda = 0.01;

    private const int MaxIterations = 100;

    /// <summary>The coefficients of the examples (w = Σ αᵢ xᵢ), the bias, and the classifier's accuracy on the examples it was fitted to.</summary>
    public readonly record struct Fit(double[] Alpha, double Bias, double Accuracy, int Iterations);

    /// <param name="gram">The Gram matrix of the n examples, row-major [n, n].</param>
    /// <param name="positive">Whether example i is of the concept (else of the random set).</param>
    public static Fit Solve(double[] gram, bool[] positive)
    {
        var n = positive.Length;
        if (gram.Length != n * n) throw new ArgumentException($"the Gram matrix has {gram.Length} values, not {n}²", nameof(gram));
        var alpha = new double[n];
        var bias = 0.0;
        var f = new double[n];
        var loss = Loss(gram, positive, alpha, bias, f);
        var iterations = 0;
        var system = new double[(n + 1) * (n + 2)];
        while (iterations < MaxIterations)
        {
            iterations++;
            // Newton's system for (Δα, Δb), reduced by K from the left (exact when K is invertible; the same f otherwise):
            // ((1/n) W K + λ I) Δα + (1/n) W 1 Δb = (1/n) r + λ α;  (1/n) 1ᵀ W K Δα + (1/n) 1ᵀ W 1 Δb = (1/n) 1ᵀ r.
            Array.Clear(system);
            var width = n + 2;
            double rSum = 0, wSum = 0;
            for (var i = 0; i < n; i++)
            {
                var p = Sigmoid(f[i]);
                var w = p * (1 - p);
                var r = p - (positive[i] ? 1 : 0);
                var row = i * width;
                for (var j = 0; j < n; j++)
                {
                    var a = w * gram[i * n + j] / n;
                    system[row + j] = a;
                    system[n * width + j] += a;
                }
                system[row + i] += Lambda;
                system[row + n] = w / n;
                system[row + n + 1] = r / n + Lambda * alpha[i];
                rSum += r;
                wSum += w;
            }
            system[n * width + n] = wSum / n;
            system[n * width + n + 1] = rSum / n;
            var step = SolveInPlace(system, n + 1);
            // Halve the step until the loss does not rise (Newton's full step from α = 0 can overshoot on separable sets).
            var (nextAlpha, nextF) = (new double[n], new double[n]);
            double next = double.PositiveInfinity, scale = 1;
            for (var halvings = 0; halvings < 60; halvings++, scale /= 2)
            {
                for (var i = 0; i < n; i++) nextAlpha[i] = alpha[i] - scale * step[i];
                next = Loss(gram, positive, nextAlpha, bias - scale * step[n], nextF);
                if (next <= loss) break;
            }
            if (!(next <= loss)) break; // no step lowers the loss: at the optimum to rounding
            (alpha, f) = (nextAlpha, nextF);
            bias -= scale * step[n];
            var change = loss - next;
            loss = next;
            if (change <= 1e-13 * Math.Max(1, Math.Abs(loss))) break;
        }
        var correct = 0;
        for (var i = 0; i < n; i++) if (f[i] > 0 == positive[i]) correct++;
        return new Fit(alpha, bias, (double)correct / n, iterations);
    }

    /// <summary>The objective at (α, b), with f = Kα + b written to <paramref name="f"/>.</summary>
    private static double Loss(double[] gram, bool[] positive, double[] alpha, double bias, double[] f)
    {
        var n = positive.Length;
        double data = 0, penalty = 0;
        for (var i = 0; i < n; i++)
        {
            var kAlpha = 0.0;
            for (var j = 0; j < n; j++) kAlpha += gram[i * n + j] * alpha[j];
            f[i] = kAlpha + bias;
            penalty += alpha[i] * kAlpha;
            var margin = positive[i] ? f[i] : -f[i];
            data += margin > 0 ? Math.Log(1 + Math.Exp(-margin)) : -margin + Math.Log(1 + Math.Exp(margin));
        }
        return data / n + Lambda / 2 * penalty;
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>Solves the m × m system stored row-major with its right-hand side as column m (rows of m + 1 values); Gaussian elimination, partial pivoting.</summary>
    private static double[] SolveInPlace(double[] a, int m)
    {
        var width = m + 1;
        for (var col = 0; col < m; col++)
        {
            var pivot = col;
            for (var row = col + 1; row < m; row++)
                if (Math.Abs(a[row * width + col]) > Math.Abs(a[pivot * width + col])) pivot = row;
            if (pivot != col)
                for (var k = col; k < width; k++) (a[col * width + k], a[pivot * width + k]) = (a[pivot * width + k], a[col * width + k]);
            var diagonal = a[col * width + col];
            if (diagonal == 0) continue; // singular direction: no step along it
            for (var row = col + 1; row < m; row++)
            {
                var factor = a[row * width + col] / diagonal;
                if (factor == 0) continue;
                for (var k = col; k < width; k++) a[row * width + k] -= factor * a[col * width + k];
            }
        }
        var x = new double[m];
        for (var row = m - 1; row >= 0; row--)
        {
            var sum = a[row * width + m];
            for (var k = row + 1; k < m; k++) sum -= a[row * width + k] * x[k];
            var diagonal = a[row * width + row];
            x[row] = diagonal == 0 ? 0 : sum / diagonal;
        }
        return x;
    }
}
