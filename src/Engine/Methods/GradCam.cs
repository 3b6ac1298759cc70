using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>Grad-CAM: ReLU(Σ_k α_k A_k), α_k the spatial mean of ∂y_target/∂A_k.</summary>
public sealed class GradCam(string layer) : ChannelWeightedCam(layer)
{
    public override string Name => "grad-cam";

    protected override Tensor Weights(MethodBatch batch, Tensor activations, Tensor? gradients) => gradients!.mean([2, 3]);
}
