using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>LayerCAM (Jiang et al. 2021): ReLU(Σ_k ReLU(g_k) ⊙ A_k).</summary>
public sealed class LayerCam(string layer) : CamMethod(layer)
{
    public const string MethodName = "layer-cam";

    public override string Name => MethodName;

    protected override Tensor Cam(MethodBatch batch, Tensor activations, Tensor? gradients) => (nn.functional.relu(gradients!) * activations).sum(1);
}
