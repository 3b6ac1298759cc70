using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19, as pytorch-grad-cam 1.5.5): with g = ∂y/∂A and S_k = Σ_p A_k,p,
/// a_k,p = g² / (2g² + S_k g³ + 10⁻⁶) where g ≠ 0 (else 0) and w_k = Σ_p ReLU(g_k,p) a_k,p.
/// </summary>
public sealed class GradCamPlusPlus(string layer) : ChannelWeightedCam(layer)
{
    public const string MethodName = "grad-cam-plus-plus";

    public override string Name => MethodName;

    protected override Tensor Weights(MethodBatch batch, Tensor activations, Tensor? gradients)
    {
        var g = gradients!;
        var g2 = g.Squared(); // rooted Scalars throughout (Scalars)
        var sum = activations.sum([2, 3], keepdim: true);
        var a = g2 / g2.Times(2).Plus(sum * g2 * g).Plus(1e-6);
        a = where(g.IsNonZero(), a, zeros_like(a));
        return (nn.functional.relu(g) * a).sum([2, 3]);
    }
}
