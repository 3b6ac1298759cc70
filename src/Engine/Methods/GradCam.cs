using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Grad-CAM: ReLU(Σ_k α_k A_k), α_k the spatial mean of ∂y_target/∂A_k, at the layer's resolution and
/// not normalised. A is [n, K, H, W]; the map is [n, H, W].
/// </summary>
public sealed class GradCam(string layer) : IAttributionMethod
{
    public string Name => "grad-cam";

    public string? Layer { get; } = layer;

    public MethodOutput Attribute(MethodBatch method)
    {
        var batch = method.Shared;
        var activations = batch.Features!;
        if (activations.dim() != 4)
            throw new ExplainException(
                $"Grad-CAM layer \"{Layer}\" gives activations of shape [{string.Join(", ", activations.shape)}]; it needs [n, channels, height, width]");
        var weights = batch.FeatureGrad!.mean([2, 3], keepdim: true);
        return nn.functional.relu((weights * activations).sum(1));
    }
}
