using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Scalars that live as long as the process. TorchSharp 0.107 hands a Scalar's native handle to libtorch and keeps no
/// reference to the Scalar while the call runs, and a Scalar has a finalizer that frees its handle. An implicitly converted
/// temporary (the <c>1</c> of <c>1 - x</c>, the alpha that <c>a + b</c> and <c>addcmul_(a, b, 1)</c> pass) can therefore be
/// collected and freed by the finalizer thread while libtorch still reads it; libtorch then finds a corrupt Scalar
/// ("Expected false to be true" in <c>c10::Scalar::toFloat</c>). The 1,000,000-row table job failed so, under GC pressure
/// from the silo's other threads, in integrated gradients' points and kernel-shap's coalition rows. The hot paths that
/// build large tensors pass these rooted Scalars explicitly instead, through the helpers below; a value that is not a constant
/// is held by a <c>using</c> until the call has returned. (<c>a - b</c> of two tensors passes no Scalar in TorchSharp 0.107.)
/// </summary>
public static class Scalars
{
    public static readonly Scalar One = 1.ToScalar();

    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary><paramref name="x"/> + <paramref name="y"/>, the alpha rooted: what the operator computes.</summary>
    public static Tensor Plus(this Tensor x, Tensor y) => x.add(y, One);

    /// <summary>1 − <paramref name="x"/>, as −x + 1 (the same number exactly), with rooted Scalars.</summary>
    public static Tensor OneMinus(this Tensor x) => x.neg().add_(One, One);

    /// <summary><paramref name="x"/> − 1, the Scalar rooted.</summary>
    public static Tensor MinusOne(this Tensor x) => x.sub(One);

    /// <summary><paramref name="x"/> · <paramref name="value"/>, the Scalar held until the product is made.</summary>
    public static Tensor Times(this Tensor x, double value)
    {
        using var scalar = value.ToScalar();
        return x.mul(scalar);
    }

    /// <summary><paramref name="x"/> clamped to at most <paramref name="max"/>, the Scalar held until the call has returned.</summary>
    public static Tensor AtMost(this Tensor x, double max)
    {
        using var scalar = max.ToScalar();
        return x.clamp_max(scalar);
    }

    /// <summary><paramref name="x"/> clamped to at least <paramref name="min"/>, the Scalar held until the call has returned.</summary>
    public static Tensor AtLeast(this Tensor x, double min)
    {
        using var scalar = min.ToScalar();
        return x.clamp_min(scalar);
    }

    /// <summary>Where <paramref name="x"/> is 0 (bool), the Scalar rooted.</summary>
    public static Tensor IsZero(this Tensor x) => x.eq(Zero);
}
