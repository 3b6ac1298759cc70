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

    public static readonly string[] Names = [Weights, Activations];

    public static ViewSpec[] Read(JsonElement views)
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
                _ => ReadActivations(spec),
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

    /// <summary><c>activations</c>: <c>layers</c> [every top-level child of the model], names of top-level children (null: all).</summary>
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
