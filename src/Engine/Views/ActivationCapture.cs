using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The outputs of named modules, taken during a batch's shared forward pass (the model run child by child,
/// <see cref="ChildSplit"/>), detached. A module the pass does not run as a step of its own (inside a container
/// along a dotted Grad-CAM layer's path) is taken by one more forward, without gradients, through the model's
/// top-level children. The taps of a model of the timm convention (<see cref="ModelTaps"/>: forward_features, the stages,
/// pre_logits) come from its exported methods: forward_features from the Grad-CAM split when it is that, the rest by
/// one more call of their own (<see cref="ModelTaps.Take"/>).
/// </summary>
/// <param name="field">The job file's field that asked for the layers, named in errors ("views.embedding.layer").</param>
public sealed class ActivationCapture(IReadOnlyList<string> layers, string field)
{
    /// <summary>Whether a layer is taken from the model's children chained (false: only the timm convention's exported taps).</summary>
    public bool NeedsChildren(ExplainModel model) => layers.Any(l => !ModelTaps.IsExported(model, l));

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
                (model.FollowsTimm ? $"; it follows the timm convention: name \"{ModelTaps.Features}\" as the layer" +
                    (model.ExportsStages || model.ExportsPreLogits ? $" (or a stage, \"{ModelTaps.StagePrefix}0\", …, or \"{ModelTaps.PreLogits}\", as it exports)" : "") + ", or leave the layer out"
                    : "; export forward_features/forward_head (timm convention), with stages(x) and pre_logits(features), e.g. with tools/explain_export.py, and name \"forward_features\""));
        }
        return chain;
    }

    /// <summary>Takes the layers still missing: the timm convention's taps by its exported methods, the rest by a forward of their own through the top-level children.</summary>
    public void Complete(ExplainModel model, Tensor input)
    {
        if (layers.All(_taken.ContainsKey)) return;
        if (layers.Any(l => ModelTaps.IsExported(model, l))) ModelTaps.Take(model, input, layers, l => _taken.GetValueOrDefault(l), Record);
        if (layers.All(_taken.ContainsKey)) return;
        using var _ = no_grad();
        var chain = TopLevel(model, input);
        model.Invoke(input, () => chain.Run(input, head: false, Record));
        var missing = layers.Where(l => !_taken.ContainsKey(l)).ToArray();
        if (missing.Length > 0) throw new InvalidOperationException($"layers {string.Join(", ", missing)} were not run");
    }
}
