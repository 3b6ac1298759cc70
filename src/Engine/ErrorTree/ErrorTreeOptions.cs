using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// The job file's <c>errorTree</c>: <c>{"depth": 3, "minLeaf": 20, "bins": 32}</c> (each optional, RAI's defaults), or
/// <c>false</c> for none. On by default for a table with a label column; a job of any other kind may not name it.
/// </summary>
public static class ErrorTreeOptions
{
    /// <summary>
    /// The deepest tree: 4 levels make at most 16 leaves, under LightGBM's 31 (RAI's <c>num_leaves</c>), so the tree never
    /// stops for its leaf count and growing it level by level gives LightGBM's leaf-wise tree.
    /// </summary>
    public const int MaxDepth = 4;

    /// <summary>LightGBM's <c>max_bin</c> ceiling.</summary>
    public const int MaxBins = 255;

    public static ErrorTreeSpec? Read(JsonElement? element, DataSpec data)
    {
        var table = data.Table is { Label: not null };
        switch (element)
        {
            case null:
                return table ? new ErrorTreeSpec() : null;
            case { ValueKind: JsonValueKind.False }:
                return null;
            case not null when data.Table is null:
                throw new ExplainException("errorTree: only a table job (data.table) grows an error tree");
            case not null when !table:
                throw new ExplainException("errorTree: the table has no label column (data.label), so no sample is known to be misclassified");
            case { ValueKind: JsonValueKind.Object } o:
                var reader = new OptionsReader(o, "errorTree.");
                var spec = new ErrorTreeSpec(reader.Integer("depth", ErrorTreeSpec.DefaultDepth, 1, MaxDepth),
                    reader.Integer("minLeaf", ErrorTreeSpec.DefaultMinLeaf, 1, 1_000_000), reader.Integer("bins", ErrorTreeSpec.DefaultBins, 2, MaxBins));
                reader.RejectUnread();
                return spec;
            default:
                throw new ExplainException("errorTree: expected {\"depth\": 3, \"minLeaf\": 20, \"bins\": 32} or false");
        }
    }
}
