using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A table's features over the model's vector: feature f takes elements [Offsets[f], Offsets[f] + Widths[f]). An
/// attribution over the vector becomes one value per feature by summing each feature's elements (a one-hot group's
/// levels; a numeric feature is its one element), so attributions are read per original column.
/// </summary>
public sealed class FeatureGroups
{
    private FeatureGroups(string[] names, int[] widths, bool[] categorical)
    {
        Names = names;
        Widths = widths;
        Categorical = categorical;
        Offsets = [.. widths.Select((_, f) => widths.Take(f).Sum())];
        Width = widths.Sum();
    }

    public string[] Names { get; }

    public int[] Widths { get; }

    public int[] Offsets { get; }

    /// <summary>Whether each feature is categorical (one-hot over its levels, or their index), rather than a number.</summary>
    public bool[] Categorical { get; }

    /// <summary>The model's vector length.</summary>
    public int Width { get; }

    /// <summary>
    /// The most rows a perturbation method (kernel-shap, permutation-shap, lime) sends through the model at once on a table
    /// whose vectors are <paramref name="width"/> floats, where <paramref name="batchSize"/> rows are a batch: a table's row
    /// is a few hundred bytes, and their forwards cost about half as much per row in chunks of thousands as in chunks of 256
    /// (docs/benchmarks.md).
    /// So <see cref="MaxRowBudget"/> rows, or <see cref="MaxInputBytes"/> of input for wide tables, or
    /// <paramref name="batchSize"/> where that is more. A method's <c>maxBatch</c> overrides it.
    /// </summary>
    public static int RowBudget(int batchSize, int width) => Math.Max(batchSize, Math.Min(MaxRowBudget, MaxInputBytes / (sizeof(float) * width)));

    public const int MaxRowBudget = 8192, MaxInputBytes = 4 << 20;

    public static FeatureGroups? Of(TableSpec? table) =>
        table is null ? null : new FeatureGroups([.. table.Features.Select(f => f.Name)], [.. table.Features.Select(f => f.Width)], [.. table.Features.Select(f => f.Categorical)]);

    /// <summary>
    /// [n, Width] maps as [n, features]: each feature's slice summed within its row (so a row's sums do not depend on
    /// the batch it came in). Maps of any other shape are returned as they are.
    /// </summary>
    public MethodOutput Sum(MethodOutput output)
    {
        var maps = output.Maps;
        if (maps.dim() != 2 || maps.shape[1] != Width) return output;
        var grouped = stack([.. Offsets.Select((offset, f) => maps.narrow(1, offset, Widths[f]).sum(1))], 1);
        return output with { Maps = grouped };
    }
}
