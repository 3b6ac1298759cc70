using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>HiResCAM (Draelos and Carin 2020): ReLU(Σ_k g_k ⊙ A_k), the gradient kept per position.</summary>
public sealed class HiResCam(string layer) : CamMethod(layer)
{
    public const string MethodName = "hires-cam";

    public override string Name => MethodName;

    protected override Tensor Cam(MethodBatch batch, Tensor activations, Tensor? gradients) => (gradients! * activations).sum(1);
}
