using System.Globalization;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The layers a view can tap on a model, by convention. A model whose forward chains its top-level children offers
/// those children, taken from the pass run child by child. A model of the timm convention also offers what its
/// exported methods give: <c>forward_features</c>'s output (<see cref="Features"/>); each stage's output,
/// <see cref="StagePrefix"/> and its index ("stages.0", "stages.1", …), from one call of <c>stages(x)</c> when the
/// model exports it; and <c>pre_logits(features)</c> (<see cref="PreLogits"/>) when exported, the pooled features
/// timm's <c>forward_head(x, pre_logits=True)</c> gives.
/// </summary>
public static class ModelTaps
{
    /// <summary>The output of the exported <c>forward_features</c>.</summary>
    public const string Features = "forward_features";

    /// <summary>The output of the exported <c>pre_logits(forward_features(x))</c>.</summary>
    public const string PreLogits = "pre_logits";

    /// <summary>"stages.i" is the i-th output of the exported <c>stages(x)</c>.</summary>
    public const string StagePrefix = "stages.";

    private const string ExportHint = "tools/explain_export.py exports them";

    /// <summary>Whether the model takes the layer from the timm convention's exported methods rather than from its children chained.</summary>
    public static bool IsExported(ExplainModel model, string layer) => model.FollowsTimm && (layer is Features or PreLogits || StageIndex(layer) is not null);

    /// <summary>i for "stages.i", else null.</summary>
    public static int? StageIndex(string layer) =>
        layer.StartsWith(StagePrefix, StringComparison.Ordinal) &&
        int.TryParse(layer.AsSpan(StagePrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : null;

    /// <summary>The layers, each checked to be a tap of the model; else an error naming the field, the taps offered and the export that would add more.</summary>
    /// <param name="probe">One input row, for counting the stages.</param>
    public static IReadOnlyList<string> Checked(ExplainModel model, IReadOnlyList<string> layers, Func<Tensor> probe, string field)
    {
        foreach (var layer in layers)
        {
            var offered = !IsExported(model, layer) ? model.TopLevelChildren().Contains(layer)
                : layer == Features || (layer == PreLogits ? model.ExportsPreLogits : StageIndex(layer) < Stages(model, probe).Count);
            if (!offered) throw new ExplainException($"{field}: \"{layer}\" is not a layer the views can tap" + Offered(model, Of(model, probe)));
        }
        return layers;
    }

    /// <summary>Every tap of the model: its top-level children, then for the timm convention the stages, forward_features and pre_logits it exports.</summary>
    /// <param name="probe">One input row [1, ...] on the model's device, for counting the stages (one call of <c>stages</c>, once per model).</param>
    public static IReadOnlyList<string> Of(ExplainModel model, Func<Tensor> probe) =>
        model.FollowsTimm ? [.. model.TopLevelChildren(), .. Stages(model, probe), Features, .. model.ExportsPreLogits ? [PreLogits] : Array.Empty<string>()]
            : model.TopLevelChildren();

    /// <summary>The stage taps of a model exporting <c>stages(x)</c>, in order; none otherwise.</summary>
    public static IReadOnlyList<string> Stages(ExplainModel model, Func<Tensor> probe) =>
        model.FollowsTimm && model.ExportsStages ? [.. Enumerable.Range(0, model.StageCount(probe)).Select(i => StagePrefix + i)] : [];

    /// <summary>The <c>activations</c> view's default layers: every stage, else forward_features (timm convention); else every top-level child.</summary>
    public static IReadOnlyList<string> DefaultActivations(ExplainModel model, Func<Tensor> probe) =>
        !model.FollowsTimm ? model.TopLevelChildren() : Stages(model, probe) is { Count: > 0 } stages ? stages : [Features];

    /// <summary>
    /// The <c>embedding</c> view's default layer: pre_logits, else forward_features (pooled, see <see cref="Rows"/>) for the
    /// timm convention; else the input of the last top-level Linear; null when there is none.
    /// </summary>
    public static string? DefaultEmbedding(ExplainModel model) =>
        model.FollowsTimm ? model.ExportsPreLogits ? PreLogits : Features : model.ChildBeforeLastLinear();

    /// <summary>A batch's outputs at a tap as rows [n, d]: a 4-D forward_features or stage output pooled over its positions (as timm's head pools), any other flattened.</summary>
    public static Tensor Rows(Tensor activations, string layer) =>
        activations.dim() == 4 && (layer == Features || StageIndex(layer) is not null) ? activations.mean([2, 3]) : activations.flatten(1);

    /// <summary>What <see cref="Rows"/> makes of a tap's outputs, in words, for the summary.</summary>
    public static string Describe(string layer) => layer switch
    {
        PreLogits => "the pre-logits features: pre_logits(forward_features(x)), the pooled features the classifier takes",
        Features => "the output of forward_features, each channel averaged over its positions (the model exports no pre_logits, or it was named)",
        _ when StageIndex(layer) is not null => $"the output of stage {StageIndex(layer)} of stages(x), each channel averaged over its positions",
        _ => $"the output of {layer}, flattened",
    };

    /// <summary>
    /// Takes the exported taps among <paramref name="wanted"/> not yet taken, without gradients, on the calling thread:
    /// the stages by one call of <c>stages(x)</c> (whose last output is forward_features), forward_features by its own
    /// call when no stage was wanted, and pre_logits from forward_features.
    /// </summary>
    /// <param name="taken">A tap's output already recorded for this batch (a Grad-CAM split at forward_features), else null.</param>
    public static void Take(ExplainModel model, Tensor input, IReadOnlyList<string> wanted, Func<string, Tensor?> taken, Action<string, Tensor> record)
    {
        using var _ = no_grad();
        var features = taken(Features);
        if (wanted.Any(l => StageIndex(l) is not null && taken(l) is null))
        {
            var outputs = model.Stages(input);
            for (var i = 0; i < outputs.Length; i++) record(StagePrefix + i, outputs[i]);
            features ??= outputs[^1];
        }
        var preLogits = wanted.Contains(PreLogits) && taken(PreLogits) is null;
        if (features is null && (preLogits || wanted.Contains(Features))) features = model.Features(input);
        if (features is not null && taken(Features) is null) record(Features, features);
        if (preLogits) record(PreLogits, model.PreLogits(features!));
    }

    /// <summary>The end of an error naming a layer that is not a tap: the taps the model offers and the export that would add more.</summary>
    private static string Offered(ExplainModel model, IReadOnlyList<string> taps)
    {
        var offered = $"; the model offers {string.Join(", ", taps.Take(16).Select(t => $"\"{t}\""))}{(taps.Count > 16 ? ", …" : "")}";
        if (!model.FollowsTimm)
            return offered + "; its forward chains its children (no timm convention): export forward_features/forward_head, stages(x) and " +
                $"pre_logits(features) to tap \"{Features}\", each stage and \"{PreLogits}\" ({ExportHint})";
        string[] missing = [.. model.ExportsStages ? [] : new[] { "stages(x) (taps \"stages.0\", \"stages.1\", …)" },
            .. model.ExportsPreLogits ? [] : new[] { $"pre_logits(features) (tap \"{PreLogits}\")" }];
        return offered + "; it follows the timm convention" + (missing.Length == 0 ? "" : $": exporting {string.Join(" and ", missing)} would add more ({ExportHint})");
    }
}
