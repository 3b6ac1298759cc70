using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>|∂y_target/∂x| (Captum's Saliency with abs=True).</summary>
public sealed class Saliency : IAttributionMethod
{
    public string Name => "saliency";

    public string? Layer => null;

    public Tensor Attribute(GradientBatch batch) => batch.InputGrad!.abs();
}
