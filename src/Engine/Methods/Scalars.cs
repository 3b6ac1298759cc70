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
/// In 0.107 an operator with a number (<c>t * 0.5</c>, <c>t / n</c>, <c>t - 1</c>) converts it inside TorchSharp unheld too, as do
/// <c>square()</c> (pow 2), <c>add_(t)</c>'s alpha and <c>arange</c>'s step. Now rooted: every tensor op of src/Engine (the
/// methods, a scripted model's forward, faithfulness, trust, sanity, param-grads, views, comparison), checked bit for bit.
/// </summary>
public static class Scalars
{
    public static readonly Scalar One = 1.ToScalar();

    public static readonly Scalar Zero = 0.ToScalar();

    /// <summary>The exponent <c>square()</c> passes (an int 2).</summary>
    public static readonly Scalar Two = 2.ToScalar();

    /// <summary><paramref name="x"/> + <paramref name="y"/>, the alpha rooted: what the operator computes.</summary>
    public static Tensor Plus(this Tensor x, Tensor y) => x.add(y, One);

    /// <summary><paramref name="x"/> += <paramref name="y"/> in place, the alpha rooted: what <c>add_(y)</c> computes.</summary>
    public static Tensor Accumulate(this Tensor x, Tensor y) => x.add_(y, One);

    /// <summary><paramref name="x"/> + <paramref name="value"/>, as the operator (alpha 1), both Scalars rooted.</summary>
    public static Tensor Plus(this Tensor x, double value) => Held(value, scalar => x.add(scalar, One));

    /// <summary><paramref name="x"/> + <paramref name="value"/> (an integer Scalar, as the operator passes for an int), both Scalars rooted.</summary>
    public static Tensor Plus(this Tensor x, long value) => Held(value, scalar => x.add(scalar, One));

    /// <summary><paramref name="x"/> − <paramref name="value"/>, the Scalar held until the call has returned.</summary>
    public static Tensor Minus(this Tensor x, double value) => Held(value, scalar => x.sub(scalar));

    /// <summary><paramref name="x"/> − <paramref name="value"/> (an integer Scalar, as the operator passes for an int), the Scalar held.</summary>
    public static Tensor Minus(this Tensor x, long value) => Held(value, scalar => x.sub(scalar));

    /// <summary><paramref name="value"/> − <paramref name="x"/>, as the operator computes it (−x + value), both Scalars rooted.</summary>
    public static Tensor SubtractedFrom(this Tensor x, long value) => Held(value, scalar => x.neg().add_(scalar, One));

    /// <summary>1 − <paramref name="x"/>, as −x + 1 (the same number exactly), with rooted Scalars.</summary>
    public static Tensor OneMinus(this Tensor x) => x.neg().add_(One, One);

    /// <summary><paramref name="x"/> − 1, the Scalar rooted.</summary>
    public static Tensor MinusOne(this Tensor x) => x.sub(One);

    /// <summary><paramref name="x"/> · <paramref name="value"/>, the Scalar held until the product is made.</summary>
    public static Tensor Times(this Tensor x, double value) => Held(value, scalar => x.mul(scalar));

    /// <summary><paramref name="x"/> · <paramref name="value"/> (an integer Scalar, as the operator passes for an int), the Scalar held.</summary>
    public static Tensor Times(this Tensor x, long value) => Held(value, scalar => x.mul(scalar));

    /// <summary><paramref name="x"/> / <paramref name="value"/>, the Scalar held until the quotient is made.</summary>
    public static Tensor DividedBy(this Tensor x, double value) => Held(value, scalar => x.div(scalar));

    /// <summary><paramref name="x"/> / <paramref name="value"/> (an integer Scalar, as the operator passes for an int), the Scalar held.</summary>
    public static Tensor DividedBy(this Tensor x, long value) => Held(value, scalar => x.div(scalar));

    /// <summary>⌊<paramref name="x"/> / <paramref name="value"/>⌋ (<c>div(value, floor)</c>), the Scalar held.</summary>
    public static Tensor FloorDivided(this Tensor x, long value) => Held(value, scalar => x.div(scalar, RoundingMode.floor));

    /// <summary><paramref name="x"/> mod <paramref name="value"/> (<c>remainder</c>), the Scalar held.</summary>
    public static Tensor Modulo(this Tensor x, long value) => Held(value, scalar => x.remainder(scalar));

    /// <summary><paramref name="x"/>², as <c>square()</c> computes it (<c>pow(2)</c>), the exponent rooted.</summary>
    public static Tensor Squared(this Tensor x) => x.pow(Two);

    /// <summary><paramref name="x"/> clamped to at most <paramref name="max"/>, the Scalar held until the call has returned.</summary>
    public static Tensor AtMost(this Tensor x, double max) => Held(max, scalar => x.clamp_max(scalar));

    /// <summary><paramref name="x"/> clamped to at least <paramref name="min"/>, the Scalar held until the call has returned.</summary>
    public static Tensor AtLeast(this Tensor x, double min) => Held(min, scalar => x.clamp_min(scalar));

    /// <summary><paramref name="x"/> clamped to at least <paramref name="min"/> (an integer Scalar, as <c>clamp_min(0)</c> passes), the Scalar held.</summary>
    public static Tensor AtLeast(this Tensor x, long min) => Held(min, scalar => x.clamp_min(scalar));

    /// <summary>Where <paramref name="x"/> is 0 (bool), the Scalar rooted.</summary>
    public static Tensor IsZero(this Tensor x) => x.eq(Zero);

    /// <summary>Where <paramref name="x"/> is not 0 (bool), the Scalar rooted.</summary>
    public static Tensor IsNonZero(this Tensor x) => x.ne(Zero);

    /// <summary>Where <paramref name="x"/> &gt; 0 (bool), the Scalar rooted.</summary>
    public static Tensor IsPositive(this Tensor x) => x.gt(Zero);

    /// <summary>Where <paramref name="x"/> &lt; <paramref name="value"/> (bool), the Scalar held.</summary>
    public static Tensor LessThan(this Tensor x, long value) => Held(value, scalar => x.lt(scalar));

    /// <summary>Where <paramref name="x"/> ≥ <paramref name="value"/> (bool), the Scalar held.</summary>
    public static Tensor GreaterOrEqual(this Tensor x, long value) => Held(value, scalar => x.ge(scalar));

    /// <summary>
    /// [<paramref name="start"/>, <paramref name="stop"/>) step 1, as <c>arange(start, stop)</c> (int64 when no
    /// <paramref name="dtype"/>); <c>arange</c> itself passes its step, and its start when omitted, as temporaries.
    /// </summary>
    public static Tensor Range(long start, long stop, ScalarType? dtype = null, Device? device = null)
    {
        using var first = start.ToScalar();
        using var end = stop.ToScalar();
        return arange(first, end, One, dtype, device);
    }

    /// <summary>A tensor like <paramref name="x"/> filled with <paramref name="value"/>, the Scalar held through the call.</summary>
    public static Tensor FullLike(this Tensor x, double value) => Held(value, scalar => full_like(x, scalar));

    /// <summary><paramref name="make"/> given <paramref name="value"/> as a Scalar that is held (not collectable) until it has returned.</summary>
    private static Tensor Held(double value, Func<Scalar, Tensor> make)
    {
        using var scalar = value.ToScalar();
        return make(scalar);
    }

    /// <summary><paramref name="make"/> given <paramref name="value"/> as an integer Scalar held until it has returned.</summary>
    private static Tensor Held(long value, Func<Scalar, Tensor> make)
    {
        using var scalar = value.ToScalar();
        return make(scalar);
    }
}
