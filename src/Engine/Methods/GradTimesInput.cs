using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>(∂y_target/∂x) · x, on the preprocessed input the model sees.</summary>
public sealed class GradTimesInput : IAttributionMethod
{
    public string Name => "grad-x-input";

    public string? Layer => null;

    public Tensor Attribute(GradientBatch batch) => batch.InputGrad! * batch.Input;
}
