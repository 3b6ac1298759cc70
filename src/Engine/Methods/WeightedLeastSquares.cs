using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// n weighted (ridge) least-squares fits at once, on the device, in float64: for each sample i,
/// min Σⱼ wᵢⱼ (yᵢⱼ − bᵢ − xᵢⱼ·βᵢ)² + α |βᵢ|², as scikit-learn's Ridge with sample weights (the intercept, when
/// fitted, is not penalised: X and y are centred on their weighted means). Absent features (padding, or a
/// feature the caller eliminated) get β = 0 and do not touch the others.
/// </summary>
public static class WeightedLeastSquares
{
    /// <param name="x">[n, m, p] features.</param>
    /// <param name="y">[n, m] targets.</param>
    /// <param name="w">[n, m] sample weights.</param>
    /// <param name="absent">[n, p] 1 where a feature is absent, else 0.</param>
    /// <returns>β [n, p] and the intercept [n] (zeros when not fitted), float64.</returns>
    public static (Tensor Coef, Tensor Intercept) Solve(Tensor x, Tensor y, Tensor w, Tensor absent, double alpha, bool intercept)
    {
        using var scope = NewDisposeScope();
        var present = absent.to(ScalarType.Float64).OneMinus(); // rooted Scalars throughout (Scalars): the kernel-shap table job failed here
        var (xd, yd, wd) = (x.to(ScalarType.Float64) * present.unsqueeze(1), y.to(ScalarType.Float64), w.to(ScalarType.Float64));
        var (xm, ym) = intercept ? (WeightedMean(xd, wd), WeightedMean(yd.unsqueeze(2), wd).squeeze(1)) : (zeros_like(present), zeros_like(yd.select(1, 0)));
        var xc = xd - xm.unsqueeze(1);
        var yc = yd - ym.unsqueeze(1);
        var xw = xc * wd.unsqueeze(2);
        var normal = xw.transpose(1, 2).matmul(xc).Plus(diag_embed(present.Times(alpha).Plus(present.OneMinus())));
        // A pseudo-inverse, so a sample with fewer informative rows than features still gets the minimum-norm fit.
        var coef = linalg.pinv(normal, hermitian: true).matmul(xw.transpose(1, 2).matmul(yc.unsqueeze(2))).squeeze(2) * present;
        var b = intercept ? ym - (xm * coef).sum(1) : zeros_like(ym);
        return (coef.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <summary>The weighted R² of a fit (scikit-learn's <c>score</c> with sample weights): 1 − Σw(y − ŷ)² / Σw(y − ȳ_w)².</summary>
    public static Tensor WeightedR2(Tensor x, Tensor y, Tensor w, Tensor coef, Tensor intercept)
    {
        using var scope = NewDisposeScope();
        var (xd, yd, wd) = (x.to(ScalarType.Float64), y.to(ScalarType.Float64), w.to(ScalarType.Float64));
        var predicted = xd.matmul(coef.unsqueeze(2)).squeeze(2).Plus(intercept.unsqueeze(1));
        var residual = (wd * (yd - predicted).Squared()).sum(1);
        var spread = (wd * (yd - WeightedMean(yd.unsqueeze(2), wd)).Squared()).sum(1);
        // As scikit-learn for a constant y: 1 for a perfect fit, else 0.
        var constant = spread.IsZero().to(ScalarType.Float64);
        var r2 = ((residual / spread.AtLeast(double.Epsilon)).OneMinus() * constant.OneMinus()).Plus(constant * residual.IsZero().to(ScalarType.Float64));
        return r2.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The same fits from each sample's <see cref="WeightedGram"/> (its sums, accumulated on the host a row at a time): the
    /// normal equations as <see cref="Solve(Tensor, Tensor, Tensor, Tensor, double, bool)"/> forms them, centred on the
    /// weighted means (Σw·xc·xcᵀ = Σw·x·xᵀ − Σw·x̄·x̄ᵀ), solved by the same pseudo-inverse on <paramref name="device"/>.
    /// </summary>
    /// <param name="absent">[n, p] 1 where a feature is absent, else 0, row-major.</param>
    /// <returns>β [n, p] and the intercept [n] (zeros when not fitted), float64, on <paramref name="device"/>.</returns>
    public static (Tensor Coef, Tensor Intercept) Solve(IReadOnlyList<WeightedGram> grams, double[] absent, double alpha, bool intercept, Device device)
    {
        using var scope = NewDisposeScope();
        var (n, p) = (grams.Count, grams[0].Features);
        var (normal, rhs, means, ym) = (new double[n * p * p], new double[n * p], new double[n * p], new double[n]);
        for (var i = 0; i < n; i++)
        {
            var g = grams[i];
            var gone = absent.AsSpan(i * p, p);
            var sw = g[p, p];
            if (intercept) ym[i] = g[p + 1, p] / sw;
            for (var j = 0; j < p; j++)
            {
                if (gone[j] != 0) continue;
                means[i * p + j] = intercept ? g[j, p] / sw : 0;
            }
            for (var j = 0; j < p; j++)
            {
                var on = gone[j] == 0;
                var mj = means[i * p + j];
                rhs[i * p + j] = on ? g[j, p + 1] - (intercept ? sw * mj * ym[i] : 0) : 0;
                for (var l = 0; l < p; l++)
                    normal[(i * p + j) * p + l] = on && gone[l] == 0 ? g[j, l] - (intercept ? sw * mj * means[i * p + l] : 0) : 0;
                normal[(i * p + j) * p + j] += on ? alpha : 1;
            }
        }
        var kept = tensor(absent, [n, p]).to(device).OneMinus();
        var coef = linalg.pinv(tensor(normal, [n, p, p]).to(device), hermitian: true).matmul(tensor(rhs, [n, p, 1]).to(device)).squeeze(2) * kept;
        var b = intercept ? tensor(ym).to(device) - (tensor(means, [n, p]).to(device) * coef).sum(1) : zeros([n], ScalarType.Float64, device);
        return (coef.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The weighted R² of one sample's fit on 0/1 features (as <see cref="WeightedR2(Tensor, Tensor, Tensor, Tensor, Tensor)"/>),
    /// in one pass over its rows on the host: 1 − Σw(y − b − x·β)² / Σw(y − ȳ_w)², ȳ_w from the sample's sums. A row's
    /// prediction b + Σ β over its set bits depends on its bits alone: where <see cref="WeightedGram.OfBits"/> sums by a
    /// table of every row value, the predictions are a table too, each value's from the value without its highest bit
    /// (so the same additions in the same order as bit by bit, and the same R² to the bit).
    /// </summary>
    /// <param name="bits">The rows' features as bits, <paramref name="words"/> a row (<see cref="WeightedGram.Add(ReadOnlySpan{ulong}, double, double)"/>).</param>
    public static double WeightedR2(WeightedGram gram, ReadOnlySpan<ulong> bits, int words, ReadOnlySpan<float> y, ReadOnlySpan<double> w, ReadOnlySpan<double> coef, double intercept)
    {
        var p = gram.Features;
        var mean = gram[p + 1, p] / gram[p, p];
        var (residual, spread) = (0.0, 0.0);
        var predictions = WeightedGram.ByTable(p, y.Length) ? System.Buffers.ArrayPool<double>.Shared.Rent(1 << p) : null;
        try
        {
            if (predictions is not null)
            {
                predictions[0] = intercept;
                for (var value = 1; value < 1 << p; value++)
                {
                    var high = 31 - System.Numerics.BitOperations.LeadingZeroCount((uint)value);
                    predictions[value] = predictions[value ^ (1 << high)] + coef[high];
                }
            }
            for (var r = 0; r < y.Length; r++)
            {
                var predicted = predictions is null ? intercept : predictions[(int)bits[r]];
                if (predictions is null)
                    for (var word = 0; word < words; word++)
                        for (var left = bits[r * words + word]; left != 0; left &= left - 1)
                            predicted += coef[word * 64 + System.Numerics.BitOperations.TrailingZeroCount(left)];
                var (error, deviation) = (y[r] - predicted, y[r] - mean);
                residual += w[r] * error * error;
                spread += w[r] * deviation * deviation;
            }
        }
        finally
        {
            if (predictions is not null) System.Buffers.ArrayPool<double>.Shared.Return(predictions);
        }
        // As scikit-learn for a constant y: 1 for a perfect fit, else 0.
        return spread == 0 ? (residual == 0 ? 1 : 0) : 1 - residual / spread;
    }

    /// <summary>Σⱼ wᵢⱼ vᵢⱼ / Σⱼ wᵢⱼ for v [n, m, p]: [n, p].</summary>
    private static Tensor WeightedMean(Tensor v, Tensor w) => (v * w.unsqueeze(2)).sum(1) / w.sum(1, keepdim: true);
}
