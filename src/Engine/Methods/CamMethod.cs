using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// The CAM family's shared part (pytorch-grad-cam's BaseCAM): a map from the split layer's activations A and
/// gradients ∂y_target/∂A, both [n, K, H, W], to [n, H, W], then ReLU. Maps stay at the layer's resolution and
/// are not min-max scaled (pytorch-grad-cam resizes and scales them in <c>scale_cam_image</c>; ExplainCluster
/// upsamples where it draws and scores them). A variant only says how it combines A and its gradient.
/// </summary>
public abstract class CamMethod(string layer) : IAttributionMethod
{
    public abstract string Name { get; }

    public string? Layer { get; } = layer;

    /// <summary>The map before the ReLU, [n, H, W].</summary>
    /// <param name="activations">A, [n, K, H, W].</param>
    /// <param name="gradients">∂y_target/∂A, [n, K, H, W].</param>
    protected abstract Tensor Cam(Tensor activations, Tensor gradients);

    public MethodOutput Attribute(MethodBatch method)
    {
        var batch = method.Shared;
        var activations = batch.Features!;
        if (activations.dim() != 4)
            throw new ExplainException(
                $"{Name} layer \"{Layer}\" gives activations of shape [{string.Join(", ", activations.shape)}]; it needs [n, channels, height, width]");
        return nn.functional.relu(Cam(activations, batch.FeatureGrad!));
    }
}
