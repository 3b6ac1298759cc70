using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>A CAM that weighs each channel by one number: ReLU(Σ_k w_k A_k), the variant giving w [n, K].</summary>
public abstract class ChannelWeightedCam(string layer) : CamMethod(layer)
{
    /// <summary>w, [n, K].</summary>
    protected abstract Tensor Weights(MethodBatch batch, Tensor activations, Tensor? gradients);

    protected sealed override Tensor Cam(MethodBatch batch, Tensor activations, Tensor? gradients) =>
        (Weights(batch, activations, gradients).unsqueeze(-1).unsqueeze(-1) * activations).sum(1);
}
