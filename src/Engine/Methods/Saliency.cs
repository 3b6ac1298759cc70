using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>|∂y_target/∂x| (Captum's Saliency with abs=True).</summary>
public sealed class Saliency : IAttributionMethod, IInputAttribution
{
    public string Name => "saliency";

    public bool DifferentiatesInput => true;

    public MethodOutput Attribute(MethodBatch batch) => batch.Shared.InputGrad!.abs();

    public Tensor AttributeAt(MethodBatch batch, Tensor x, Tensor targets) =>
        TargetGradients.Compute(batch.Model, x, targets, batch.MaxRows).Grad.abs();
}
