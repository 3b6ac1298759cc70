using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Dependence;

/// <summary>
/// The job file's <c>dependence</c>, for a table: <c>{"features": [names] | N, "grid": 20, "ice": 50, "sample": 1000, "seed": 0,
/// "response": "probability" | "logit", "permutation": {"repeats": 5, "seed": 0} | false}</c>. A number of features takes the N
/// with the largest mean |attribution| of the job's first method (5 by default); the grid's quantiles, the ICE rows and
/// permutation importance's draws come from one seeded sample of <c>sample</c> rows. Permutation importance needs labels:
/// on by default when the table has them.
/// </summary>
public static class DependenceOptions
{
    public const int DefaultTop = 5;
    public const int DefaultGrid = 20;
    public const int DefaultIce = 50;
    public const int DefaultSample = 1000;
    public const int DefaultRepeats = 5;

    public static DependenceSpec? Read(JsonElement? element, DataSpec data, MethodSpec[] methods)
    {
        if (element is not { } e) return null;
        if (data.Table is not { } table) throw new ExplainException("dependence: only for a table (data.table)");
        if (e.ValueKind != JsonValueKind.Object) throw new ExplainException("dependence: expected an object, e.g. {\"features\": 5, \"grid\": 20}");
        var options = new OptionsReader(e, "dependence.");
        var names = table.Features.Select(f => f.Name).ToArray();
        string[]? features = null;
        var top = DefaultTop;
        switch (options.Raw("features"))
        {
            case null or { ValueKind: JsonValueKind.Number }:
                top = options.Integer("features", Math.Min(DefaultTop, names.Length), 1, names.Length);
                if (methods.Length == 0)
                    throw new ExplainException("dependence.features: a number picks the features with the largest mean |attribution|, and the job has no method; name the features instead");
                break;
            case { ValueKind: JsonValueKind.Array } array when array.GetArrayLength() > 0 && array.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String):
                features = [.. array.EnumerateArray().Select(x => x.GetString()!)];
                for (var i = 0; i < features.Length; i++)
                    if (!names.Contains(features[i], StringComparer.Ordinal))
                        throw new ExplainException($"dependence.features[{i}]: \"{features[i]}\" is not a feature (data.features: {string.Join(", ", names)})");
                if (features.Distinct(StringComparer.Ordinal).Count() != features.Length) throw new ExplainException("dependence.features: a feature is named twice");
                break;
            default:
                throw new ExplainException("dependence.features: expected a non-empty array of feature names or a number of top features");
        }
        var grid = options.Integer("grid", DefaultGrid, 2, 100);
        var ice = options.Integer("ice", DefaultIce, 0, 1000);
        var sample = options.Integer("sample", DefaultSample, 10, 100_000);
        if (ice > sample) throw new ExplainException($"dependence.ice: {ice} curves, but the sample has {sample} rows; at most the sample's rows");
        var seed = options.Integer("seed", 0, 0, int.MaxValue);
        var logit = options.Choice("response", "probability", "logit") == "logit";
        var (repeats, permutationSeed) = Permutation(options, data.HasLabels);
        options.RejectUnread();
        return new DependenceSpec(features, top, grid, ice, sample, seed, logit, repeats, permutationSeed);
    }

    private static (int Repeats, int Seed) Permutation(OptionsReader options, bool labelled)
    {
        switch (options.Raw("permutation"))
        {
            case null:
                return labelled ? (DefaultRepeats, 0) : (0, 0);
            case { ValueKind: JsonValueKind.False }:
                return (0, 0);
            case { ValueKind: JsonValueKind.Object } o:
                if (!labelled) throw new ExplainException("dependence.permutation: permutation importance is an accuracy drop and needs labels (data.label)");
                var reader = new OptionsReader(o, "dependence.permutation.");
                var repeats = reader.Integer("repeats", DefaultRepeats, 2, 100);
                var seed = reader.Integer("seed", 0, 0, int.MaxValue);
                reader.RejectUnread();
                return (repeats, seed);
            default:
                throw new ExplainException("dependence.permutation: expected {\"repeats\": R, \"seed\": s} or false");
        }
    }
}
