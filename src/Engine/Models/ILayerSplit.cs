using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Models;

/// <summary>A model cut in two at a layer: logits = Head(Features(x)).</summary>
public interface ILayerSplit
{
    string Layer { get; }

    bool Verified { get; set; }

    Tensor Features(Tensor input);

    Tensor Head(Tensor features);
}

/// <summary>The timm convention: exported <c>forward_features</c> and <c>forward_head</c>.</summary>
internal sealed class TimmSplit(jit.ScriptModule module) : ILayerSplit
{
    public const string LayerName = "forward_features";

    public string Layer => LayerName;

    public bool Verified { get; set; }

    public Tensor Features(Tensor input) => module.invoke<Tensor>("forward_features", input);

    public Tensor Head(Tensor features) => module.invoke<Tensor>("forward_head", features);
}
