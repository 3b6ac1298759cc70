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
        var present = 1 - absent.to(ScalarType.Float64);
        var (xd, yd, wd) = (x.to(ScalarType.Float64) * present.unsqueeze(1), y.to(ScalarType.Float64), w.to(ScalarType.Float64));
        var (xm, ym) = intercept ? (WeightedMean(xd, wd), WeightedMean(yd.unsqueeze(2), wd).squeeze(1)) : (zeros_like(present), zeros_like(yd.select(1, 0)));
        var xc = xd - xm.unsqueeze(1);
        var yc = yd - ym.unsqueeze(1);
        var xw = xc * wd.unsqueeze(2);
        var normal = xw.transpose(1, 2).matmul(xc) + diag_embed(alpha * present + (1 - present));
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
        var predicted = xd.matmul(coef.unsqueeze(2)).squeeze(2) + intercept.unsqueeze(1);
        var residual = (wd * (yd - predicted).square()).sum(1);
        var spread = (wd * (yd - WeightedMean(yd.unsqueeze(2), wd)).square()).sum(1);
        // As scikit-learn for a constant y: 1 for a perfect fit, else 0.
        var constant = (spread == 0).to(ScalarType.Float64);
        var r2 = (1 - residual / spread.clamp_min(double.Epsilon)) * (1 - constant) + constant * (residual == 0).to(ScalarType.Float64);
        return r2.MoveToOuterDisposeScope();
    }

    /// <summary>Σⱼ wᵢⱼ vᵢⱼ / Σⱼ wᵢⱼ for v [n, m, p]: [n, p].</summary>
    private static Tensor WeightedMean(Tensor v, Tensor w) => (v * w.unsqueeze(2)).sum(1) / w.sum(1, keepdim: true);
}
