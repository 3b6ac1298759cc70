using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>EigenGrad-CAM (pytorch-grad-cam): Eigen-CAM's projection of g ⊙ A instead of A.</summary>
public sealed class EigenGradCam(string layer) : EigenCam(layer)
{
    public new const string MethodName = "eigen-grad-cam";

    public override string Name => MethodName;

    public override bool UsesSharedGradients => true;

    protected override Tensor Projected(Tensor activations, Tensor? gradients) => gradients! * activations;
}
