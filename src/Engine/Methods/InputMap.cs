using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// The input itself as a map, as the model takes it: a control that ignores the model (Adebayo et al.'s edge
/// detector plays this part), so the sanity check has a method it must flag, and the report a reference.
/// </summary>
public sealed class InputMap : IAttributionMethod
{
    public const string MethodName = "input";

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    public MethodOutput Attribute(MethodBatch batch) => batch.Input.detach().contiguous();
}
