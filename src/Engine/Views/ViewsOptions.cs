using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The job file's <c>views</c> object: the global views of the network the job computes beside its maps, each
/// by name with its options, read strictly now so a bad one fails the job file, not a shard.
/// </summary>
public static class ViewsOptions
{
    public const string Weights = "weights";
    public const string Activations = "activations";
    public const string Pruning = "pruning";
    public const string Maximisation = "maximisation";
    public const string Embedding = "embedding";

    public static readonly string[] Names = [Weights, Activations, Pruning, Maximisation, Embedding];

    /// <param name="methods">The job's methods: pruning's layer defaults to Grad-CAM's.</param>
    public static ViewSpec[] Read(JsonElement views, IReadOnlyList<MethodSpec> methods)
    {
        if (views.ValueKind != JsonValueKind.Object) throw new ExplainException("views: expected an object of views");
        var specs = new List<ViewSpec>();
        foreach (var view in views.EnumerateObject())
        {
            if (!Names.Contains(view.Name))
                throw new ExplainException($"views.{view.Name}: unknown view (known: {string.Join(", ", Names)})");
            if (view.Value.ValueKind != JsonValueKind.Object) throw new ExplainException($"views.{view.Name}: expected an object");
            var spec = new ViewSpec(view.Name, view.Value.GetRawText());
            _ = view.Name switch
            {
                Weights => ReadWeights(spec) as object,
                Activations => ReadActivations(spec),
                Pruning => ReadPruning(spec, methods),
                Embedding => ReadEmbedding(spec),
                _ => MaximisationOptions.Read(spec.Options),
            };
            specs.Add(spec);
        }
        return [.. specs];
    }

    public static ViewSpec? Find(JobSpec job, string name) => job.Views?.FirstOrDefault(v => v.Name == name);

    /// <summary><c>weights</c> takes no options.</summary>
    public static bool ReadWeights(ViewSpec spec)
    {
        OptionsReader.Parse(spec.Options, "views.weights.").RejectUnread();
        return true;
    }

    /// <summary>
    /// <c>pruning</c>: <c>layer</c> [the job's Grad-CAM layer], <c>samples</c> [2048] in a stratified sample chosen from
    /// <c>seed</c> [0] as the sanity check's is, <c>maxRows</c> [256] rows per head pass.
    /// </summary>
    public static PruningOptions ReadPruning(ViewSpec spec, IReadOnlyList<MethodSpec> methods)
    {
        var o = OptionsReader.Parse(spec.Options, "views.pruning.");
        var layer = o.Raw("layer") is null
            ? methods.Select(m => m.Layer).OfType<string>().FirstOrDefault()
              ?? throw new ExplainException("views.pruning.layer: missing (no Grad-CAM layer in the job to default to)")
            : o.Text("layer");
        var options = new PruningOptions(layer, o.Integer("samples", 2048, 1, 1_000_000), o.Integer("seed", 0, 0, int.MaxValue), o.Integer("maxRows", 256, 1, 65536));
        o.RejectUnread();
        return options;
    }

    /// <summary>
    /// <c>embedding</c>: <c>layer</c> [the input of the model's last top-level Linear: the child before it; for a model of
    /// the timm convention forward_features], a top-level child whose output (flattened) is the embedding, or
    /// <c>forward_features</c> (pooled over positions, as timm's head pools); <c>dims</c> [2] principal components.
    /// </summary>
    public static EmbeddingOptions ReadEmbedding(ViewSpec spec)
    {
        var o = OptionsReader.Parse(spec.Options, "views.embedding.");
        var options = new EmbeddingOptions(o.Raw("layer") is null ? null : o.Text("layer"), o.Integer("dims", 2, 1, 16),
            o.Integer("knnSamples", 1024, 0, 100_000), o.Integer("k", 10, 1, 1000), o.Integer("seed", 0, 0, int.MaxValue));
        o.RejectUnread();
        return options;
    }

    /// <summary><c>activations</c>: <c>layers</c> [every top-level child of the model; for the timm convention forward_features], names of top-level children or <c>forward_features</c> (null: the default).</summary>
    public static string[]? ReadActivations(ViewSpec spec)
    {
        var o = OptionsReader.Parse(spec.Options, "views.activations.");
        string[]? layers = o.Raw("layers") switch
        {
            null => null,
            { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 && a.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String && e.GetString()!.Length > 0) =>
                [.. a.EnumerateArray().Select(e => e.GetString()!)],
            _ => throw new ExplainException("views.activations.layers: expected a list of the model's child names"),
        };
        o.RejectUnread();
        return layers;
    }
}

/// <summary>The <c>pruning</c> view's options: the layer whose channels are zeroed, the sample, and the rows per head pass.</summary>
public sealed record PruningOptions(string Layer, int Samples, int Seed, int MaxRows);

/// <summary>The <c>embedding</c> view's options: the top-level child whose output is embedded (null: the one before the last Linear), and how many components.</summary>
/// <param name="KnnSamples">The stratified subset on which each sample's k nearest neighbours (in the embedding's full
/// feature space) vote on its label (0: none); needs labels.</param>
public sealed record EmbeddingOptions(string? Layer, int Dims, int KnnSamples = 1024, int K = 10, int Seed = 0);
