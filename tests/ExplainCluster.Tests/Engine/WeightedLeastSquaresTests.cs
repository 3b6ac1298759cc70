using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The fits from each sample's sums on the host (<see cref="WeightedGram"/>) against the fits over the whole design
/// tensors (the path image lime takes): two independent computations of the same normal equations.
/// </summary>
public sealed class WeightedLeastSquaresTests
{
    private const int Samples = 3, Rows = 400, Features = 6;

    /// <summary>Random rows: 0/1 features (or −1/0/1), weights in (0, 1], targets on a noisy linear function of the features.</summary>
    private static (float[] X, float[] Y, double[] W) Draw(int seed, bool signed)
    {
        var random = new Random(seed);
        var x = new float[Samples * Rows * Features];
        for (var e = 0; e < x.Length; e++) x[e] = random.Next(2) - (signed ? random.Next(2) : 0);
        var (y, w) = (new float[Samples * Rows], new double[Samples * Rows]);
        for (var r = 0; r < y.Length; r++)
        {
            var value = 0.3;
            for (var j = 0; j < Features; j++) value += (j - 2.5) * x[r * Features + j];
            y[r] = (float)(value + random.NextDouble() - 0.5);
            w[r] = 1 - random.NextDouble();
        }
        return (x, y, w);
    }

    [Fact]
    public void Solve_FromSums_EqualsTheTensorFitAndItsR2_OnBitRows()
    {
        var (x, y, w) = Draw(3, signed: false);
        var words = 1;
        var bits = new ulong[Samples * Rows];
        var grams = new WeightedGram[Samples];
        for (var i = 0; i < Samples; i++)
        {
            grams[i] = new WeightedGram(Features);
            for (var r = 0; r < Rows; r++)
            {
                var row = i * Rows + r;
                for (var j = 0; j < Features; j++) bits[row] |= (x[row * Features + j] != 0 ? 1UL : 0) << j;
                grams[i].Add(bits.AsSpan(row, 1), w[row], y[row]);
            }
        }
        using var scope = NewDisposeScope();
        var (xt, yt, wt, none) = (tensor(x, [Samples, Rows, Features]), tensor(y, [Samples, Rows]), tensor(w, [Samples, Rows]), zeros([Samples, Features], ScalarType.Float64));
        var (coef, intercept) = WeightedLeastSquares.Solve(xt, yt, wt, none, alpha: 1, intercept: true);
        var r2 = WeightedLeastSquares.WeightedR2(xt, yt, wt, coef, intercept).data<double>().ToArray();
        var (hostCoef, hostIntercept) = WeightedLeastSquares.Solve(grams, new double[Samples * Features], alpha: 1, intercept: true, CPU);
        var (beta, b) = (hostCoef.data<double>().ToArray(), hostIntercept.data<double>().ToArray());
        Assert.Equal(coef.data<double>().ToArray(), beta, (e, a) => Math.Abs(e - a) < 1e-10);
        Assert.Equal(intercept.data<double>().ToArray(), b, (e, a) => Math.Abs(e - a) < 1e-10);
        for (var i = 0; i < Samples; i++)
        {
            var hostR2 = WeightedLeastSquares.WeightedR2(grams[i], bits.AsSpan(i * Rows, Rows), words, y.AsSpan(i * Rows, Rows), w.AsSpan(i * Rows, Rows), beta.AsSpan(i * Features, Features), b[i]);
            Assert.Equal(r2[i], hostR2, 1e-10);
            Assert.InRange(hostR2, 0.5, 1); // the fit explains most of the spread: the comparison is not between two zeros
        }
    }

    [Fact]
    public void WeightedR2_ByATableOfPredictions_IsTheRowByRowSumToTheBit()
    {
        // 400 rows of 6 features: the predictions come from a table of the 64 row values. Each row's prediction summed
        // here bit by bit, in ascending order from the intercept, must give the same R² to the last bit.
        var (x, y, w) = Draw(9, signed: false);
        var bits = new ulong[Rows];
        var gram = new WeightedGram(Features);
        for (var r = 0; r < Rows; r++)
        {
            for (var j = 0; j < Features; j++) bits[r] |= (x[r * Features + j] != 0 ? 1UL : 0) << j;
            gram.Add(bits.AsSpan(r, 1), w[r], y[r]);
        }
        Assert.True(WeightedGram.ByTable(Features, Rows));
        double[] beta = [0.1, -2.3, 1e-3, 7.5, -0.25, 3.3];
        const double Intercept = 0.7;
        var mean = gram[Features + 1, Features] / gram[Features, Features];
        var (residual, spread) = (0.0, 0.0);
        for (var r = 0; r < Rows; r++)
        {
            var predicted = Intercept;
            for (var j = 0; j < Features; j++) if ((bits[r] >> j & 1) != 0) predicted += beta[j];
            residual += w[r] * (y[r] - predicted) * (y[r] - predicted);
            spread += w[r] * (y[r] - mean) * (y[r] - mean);
        }
        Assert.Equal(1 - residual / spread, WeightedLeastSquares.WeightedR2(gram, bits, 1, y.AsSpan(0, Rows), w.AsSpan(0, Rows), beta, Intercept));
    }

    [Fact]
    public void Solve_FromSums_WithoutInterceptAndAnAbsentFeature_EqualsTheTensorFit()
    {
        // kernel-shap's form: features in {−1, 0, 1}, no penalty, no intercept, one feature eliminated (absent: β = 0).
        var (x, y, w) = Draw(5, signed: true);
        var grams = new WeightedGram[Samples];
        for (var i = 0; i < Samples; i++)
        {
            grams[i] = new WeightedGram(Features);
            for (var r = 0; r < Rows; r++) grams[i].Add(x.AsSpan((i * Rows + r) * Features, Features), w[i * Rows + r], y[i * Rows + r]);
        }
        var absent = new double[Samples * Features];
        for (var i = 0; i < Samples; i++) absent[i * Features + (i + 1) % Features] = 1;
        using var scope = NewDisposeScope();
        var (coef, _) = WeightedLeastSquares.Solve(tensor(x, [Samples, Rows, Features]), tensor(y, [Samples, Rows]), tensor(w, [Samples, Rows]),
            tensor(absent, [Samples, Features]), alpha: 0, intercept: false);
        var (hostCoef, hostIntercept) = WeightedLeastSquares.Solve(grams, absent, alpha: 0, intercept: false, CPU);
        var beta = hostCoef.data<double>().ToArray();
        Assert.Equal(coef.data<double>().ToArray(), beta, (e, a) => Math.Abs(e - a) < 1e-10);
        Assert.Equal(new double[Samples], hostIntercept.data<double>().ToArray());
        for (var i = 0; i < Samples; i++) Assert.Equal(0, beta[i * Features + (i + 1) % Features]);
        Assert.Contains(beta, v => Math.Abs(v) > 0.5); // the fit found the slopes (−2.5 … 2.5), not zeros
    }
}
