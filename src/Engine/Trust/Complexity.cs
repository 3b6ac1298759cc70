using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// Complexity of a map as Quantus computes it (its defaults: absolute values, then normalised by the maximum), on each
/// map's per-pixel scores |map| (summed over channels; a layer's grid upsampled, as for faithfulness):
/// sparseness is Quantus' Sparseness, the Gini index of the scores plus 1e-7, sorted ascending:
/// Σᵢ (2i − n − 1) aᵢ / (n Σᵢ aᵢ), 0 for a uniform map and (n − 1)/n (less the 1e-7's share) for a one-hot one;
/// complexity is Quantus' Complexity, the entropy −Σ pᵢ log(pᵢ + 1e-12) of pᵢ = aᵢ / Σ a, log n for a uniform map and 0 for a
/// one-hot one. A map that is zero everywhere has neither (NaN: left out of the statistics).
/// </summary>
public static class Complexity
{
    /// <param name="scores">Per-pixel |map| scores, [n, ...] (any shape per row).</param>
    /// <returns>(sparseness, complexity) per row, [n] float64 each.</returns>
    public static (Tensor Sparseness, Tensor Entropy) Of(Tensor scores)
    {
        using var scope = NewDisposeScope();
        var a = scores.flatten(1).to(float64).abs();
        var n = a.shape[1];
        var max = a.amax([1], keepdim: true);
        // Rooted Scalars throughout (Scalars).
        var zero = max.squeeze(1).IsZero();
        a = a / max.AtLeast(double.Epsilon);
        var sorted = a.Plus(1e-7).sort(1).Values;
        var weights = Scalars.Range(1, n + 1, float64, a.device).Times(2).Minus(n).Minus(1).unsqueeze(0);
        var gini = (weights * sorted).sum(1) / sorted.sum(1).Times(n);
        var p = a / a.sum(1, keepdim: true).AtLeast(double.Epsilon);
        var entropy = -(p * p.Plus(1e-12).log()).sum(1);
        var nan = gini.FullLike(double.NaN);
        return (where(zero, nan, gini).MoveToOuterDisposeScope(), where(zero, nan, entropy).MoveToOuterDisposeScope());
    }
}
