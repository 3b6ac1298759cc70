using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>One explanation method: turns a gradient batch into per-sample attribution maps [n, ...].</summary>
public interface IAttributionMethod
{
    string Name { get; }

    /// <summary>The layer this method needs split out of the model, if any.</summary>
    string? Layer { get; }

    Tensor Attribute(GradientBatch batch);
}
