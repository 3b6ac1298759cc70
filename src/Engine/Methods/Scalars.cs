using TorchSharp;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Scalars that live as long as the process. TorchSharp 0.107 hands a Scalar's native handle to libtorch and keeps no
/// reference to the Scalar while the call runs, and a Scalar has a finalizer that frees its handle. An implicitly converted
/// temporary (the <c>1</c> of <c>1 - x</c>, the alpha that <c>a + b</c> and <c>addcmul_(a, b, 1)</c> pass) can therefore be
/// collected and freed by the finalizer thread while libtorch still reads it; libtorch then finds a corrupt Scalar
/// ("Expected false to be true" in <c>c10::Scalar::toFloat</c>). The 1,000,000-row table job failed so, under GC pressure
/// from the silo's other threads, in integrated gradients' points and kernel-shap's coalition rows. The hot paths that
/// build large tensors pass these rooted Scalars explicitly instead.
/// </summary>
public static class Scalars
{
    public static readonly Scalar One = 1.ToScalar();
}
