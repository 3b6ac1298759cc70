using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>(∂y_target/∂x) · x, on the preprocessed input the model sees.</summary>
public sealed class GradTimesInput : IAttributionMethod, IInputAttribution
{
    public string Name => "grad-x-input";

    public bool DifferentiatesInput => true;

    public MethodOutput Attribute(MethodBatch batch) => batch.Shared.InputGrad! * batch.Input;

    public Tensor AttributeAt(MethodBatch batch, Tensor x, Tensor targets) =>
        TargetGradients.Compute(batch.Model, x, targets, batch.MaxRows).Grad * x;
}
