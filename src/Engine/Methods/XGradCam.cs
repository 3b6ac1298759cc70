using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>XGrad-CAM (Fu et al. 2020, as pytorch-grad-cam 1.5.5): w_k = Σ_p g_k,p A_k,p / (Σ_p A_k,p + 10⁻⁷).</summary>
public sealed class XGradCam(string layer) : ChannelWeightedCam(layer)
{
    public const string MethodName = "xgrad-cam";

    public override string Name => MethodName;

    protected override Tensor Weights(MethodBatch batch, Tensor activations, Tensor? gradients) =>
        (gradients! * activations / activations.sum([2, 3], keepdim: true).Plus(1e-7)).sum([2, 3]); // rooted Scalars (Scalars)
}
