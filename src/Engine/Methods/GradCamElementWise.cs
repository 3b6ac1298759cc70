using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>Element-wise Grad-CAM (pytorch-grad-cam's GradCAMElementWise): ReLU(Σ_k ReLU(g_k ⊙ A_k)).</summary>
public sealed class GradCamElementWise(string layer) : CamMethod(layer)
{
    public const string MethodName = "grad-cam-element-wise";

    public override string Name => MethodName;

    protected override Tensor Cam(MethodBatch batch, Tensor activations, Tensor? gradients) => nn.functional.relu(gradients! * activations).sum(1);
}
