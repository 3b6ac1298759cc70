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

    /// <summary>
    /// Whether the variant reads ∂y/∂A. One that does not gets null gradients and, when no other method of the
    /// job asks for the shared backward, takes A from a forward of its own to the layer.
    /// </summary>
    public virtual bool UsesSharedGradients => true;

    /// <summary>The map before the ReLU, [n, H, W].</summary>
    /// <param name="batch">The batch, for variants that run passes of their own (Score-CAM, Ablation-CAM).</param>
    /// <param name="activations">A, [n, K, H, W].</param>
    /// <param name="gradients">∂y_target/∂A, [n, K, H, W]; null when <see cref="UsesSharedGradients"/> is false.</param>
    protected abstract Tensor Cam(MethodBatch batch, Tensor activations, Tensor? gradients);

    public MethodOutput Attribute(MethodBatch method)
    {
        var batch = method.Shared;
        var activations = batch.Features ?? LayerActivations(method);
        if (activations.dim() != 4)
            throw new ExplainException(
                $"{Name} layer \"{Layer}\" gives activations of shape [{string.Join(", ", activations.shape)}]; it needs [n, channels, height, width]");
        return nn.functional.relu(Cam(method, activations, UsesSharedGradients ? batch.FeatureGrad! : null));
    }

    /// <summary>A at the layer by a forward of its own (no gradients), for a batch whose shared pass kept no features.</summary>
    private Tensor LayerActivations(MethodBatch batch)
    {
        using var noGrad = no_grad();
        var split = batch.Model.Split(Layer!);
        batch.Model.VerifySplit(split, batch.Input.narrow(0, 0, 1));
        return batch.Model.Invoke(batch.Input, () => split.Features(batch.Input));
    }
}
