using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The outputs of named modules, taken during a batch's shared forward pass (the model run child by child,
/// <see cref="ChildSplit"/>), detached. A module the pass does not run as a step of its own (inside a container
/// along a dotted Grad-CAM layer's path) is taken by one more forward, without gradients, through the model's
/// top-level children. For a model of the timm convention the tap is <c>forward_features</c>'s output
/// (<see cref="FeaturesTap"/>), taken from the Grad-CAM split when it is that, else by one more forward of its own.
/// </summary>
/// <param name="field">The job file's field that asked for the layers, named in errors ("views.embedding.layer").</param>
public sealed class ActivationCapture(IReadOnlyList<string> layers, string field)
{
    /// <summary>The timm convention's tap: the output of the exported <c>forward_features</c>.</summary>
    public const string FeaturesTap = "forward_features";

    /// <summary>Whether a layer is taken from the model's children chained (false: only <see cref="FeaturesTap"/>).</summary>
    public bool NeedsChildren => layers.Any(l => l != FeaturesTap);

    private readonly Dictionary<string, Tensor> _taken = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Layers => layers;

    /// <summary>The layer's output [n, ...] for the current batch.</summary>
    public Tensor this[string layer] => _taken[layer];

    /// <summary>Forgets the previous batch's outputs (they belong to its dispose scope).</summary>
    public void Clear() => _taken.Clear();

    public void Record(string name, Tensor output)
    {
        if (layers.Contains(name)) _taken[name] = output.detach();
    }

    /// <summary>The model as the chain of its top-level children, checked once against its own forward on <paramref name="probe"/>'s first row.</summary>
    internal ChildSplit TopLevel(ExplainModel model, Tensor probe)
    {
        var chain = model.TopLevelChain();
        try
        {
            model.VerifySplit(chain, probe.narrow(0, 0, 1));
        }
        catch (ExplainException)
        {
            throw new ExplainException(
                $"{field}: the forward of model {model.Location} does not chain its top-level children " +
                $"({string.Join(", ", model.TopLevelChildren().Take(8))}), so their activations cannot be taken from its pass" +
                (model.FollowsTimm ? $"; it follows the timm convention: name \"{FeaturesTap}\" as the layer, or leave the layer out" : "; export forward_features/forward_head (timm convention), e.g. with tools/explain_export.py, and name \"forward_features\""));
        }
        return chain;
    }

    /// <summary>Takes the layers still missing by a forward of their own through the top-level children (or <c>forward_features</c>).</summary>
    public void Complete(ExplainModel model, Tensor input)
    {
        if (layers.All(_taken.ContainsKey)) return;
        if (layers.Contains(FeaturesTap) && !_taken.ContainsKey(FeaturesTap)) Record(FeaturesTap, model.Features(input));
        if (layers.All(_taken.ContainsKey)) return;
        using var _ = no_grad();
        var chain = TopLevel(model, input);
        model.Invoke(input, () => chain.Run(input, head: false, Record));
        var missing = layers.Where(l => !_taken.ContainsKey(l)).ToArray();
        if (missing.Length > 0) throw new InvalidOperationException($"layers {string.Join(", ", missing)} were not run");
    }
}
