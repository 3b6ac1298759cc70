using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.ErrorTree;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// A synthetic table: x standardized (mean 100, std 10), c one-hot over a, b, c, z as it is; metadata region (three levels)
/// and id (one per row: an identifier the tree leaves alone). The model is wrong where <see cref="Wrong"/> says; saliency
/// explained the rows <see cref="Explained"/> picks, with |a| = (x's raw value, c's level, 1).
/// </summary>
public sealed record ErrorTreeTable(int Rows, Func<int, double> X, Func<int, int> C, Func<int, float> Z, Func<int, string?> Region, Func<int, bool> Wrong,
    Func<int, bool> Explained, ErrorTreeSpec Options)
{
    public static readonly TableSpec Spec = new(
        [new("x", false, FeatureEncoding.Standardize, 100, 10, null, null), new("c", true, FeatureEncoding.OneHot, 0, 1, ["a", "b", "c"], null),
         new("z", false, FeatureEncoding.Identity, 0, 1, null, null)], "label", ["region", "id"]);

    private const int Width = 5;

    /// <summary>The id metadata value of a row: by default its own (more levels than the tree splits on, past 64 rows).</summary>
    public Func<int, string?> Id { get; init; } = i => $"row{i}";

    private float[] Vector(int i) => [(float)((X(i) - 100) / 10), C(i) == 0 ? 1 : 0, C(i) == 1 ? 1 : 0, C(i) == 2 ? 1 : 0, Z(i)];

    /// <summary>Rows [start, start + count) as a shard: what the explain pass computed, and what the tree pass reads back.</summary>
    public (ShardOutcome Outcome, long[] Predictions, StagedAttributions[] Attributions) Shard(int start, int count)
    {
        var raw = Enumerable.Range(start, count).SelectMany(Vector).ToArray();
        var labels = new long[count];
        var predictions = Enumerable.Range(start, count).Select(i => Wrong(i) ? 1 : 0).ToArray();
        var explained = Enumerable.Range(0, count).Where(r => Explained(start + r)).ToArray();
        var maps = explained.SelectMany(r => new[] { (float)-X(start + r), C(start + r), 1f }).ToArray();
        var data = new ShardData(start, count, raw, labels, [Width], Metadata: [new TextColumn("region", [.. Enumerable.Range(start, count).Select(Region)]),
            new TextColumn("id", [.. Enumerable.Range(start, count).Select(Id)])], ErrorTree: new ErrorTreeInput(Options, Spec));
        var result = new ShardResult(start, count, 2, labels, labels, [], predictions, [], null, [new MethodMaps("saliency", [3], maps, [], explained)], 0);
        var staged = new StagedAttributions([.. explained.Select(r => (long)(start + r))], maps);
        return (new ShardOutcome(new ShardSpec(0, start, count), result, data, 1, [], []), [.. predictions.Select(p => (long)p)], [staged]);
    }

    /// <summary>
    /// The tree pass over shards of <paramref name="sizes"/> rows: each shard's explain partial through its encoding and the merge,
    /// then every level counted by each shard (in reverse shard order: the fold does not depend on it) until the tree is grown.
    /// </summary>
    public (ErrorTreeGrowth Grown, ErrorTreeSummary Summary, int LargestPartial) Grow(params int[] sizes) => Grow(null, sizes);

    /// <param name="cache">Where each shard's <see cref="TreeRows"/> are kept from the first level on, as a silo keeps them; null: every level computes them again.</param>
    public (ErrorTreeGrowth Grown, ErrorTreeSummary Summary, int LargestPartial) Grow(TreeRowsCache? cache, params int[] sizes)
    {
        var starts = sizes.Select((_, s) => sizes.Take(s).Sum()).ToArray();
        var shards = sizes.Select((size, s) => Shard(starts[s], size)).ToArray();
        var sums = ErrorTreeFeature.Instance.NewSums(2);
        foreach (var shard in shards)
            sums.Fold(ErrorTreeFeature.Instance.Decode(ErrorTreeFeature.Instance.Encode(ErrorTreeFeature.Instance.Compute(shard.Outcome)!), "test"));
        var growth = sums.Begin()!;
        var largest = 0;
        while (!growth.Done)
        {
            growth = ErrorTreeGrowth.Decode(growth.Encode()); // as the record carries it to the shards and back
            var fold = new ErrorTreeLevel.Fold(growth);
            foreach (var (shard, s) in shards.Select((shard, s) => (shard, s)).Reverse())
            {
                var key = new TreeRowsKey("job", s, 1, growth.ColumnsKey);
                var rows = cache?.Get(key);
                if (rows is null && cache is not null) cache.Keep(key, rows = TreeRows.Of(growth, Spec, shard.Outcome.Data, shard.Predictions));
                var counts = rows is null ? ErrorTreeLevel.Compute(growth, Spec, shard.Outcome.Data, shard.Predictions, shard.Attributions)
                    : ErrorTreeLevel.Compute(growth, rows, shard.Attributions);
                largest = Math.Max(largest, counts.Length);
                Assert.Null(fold.Add(counts));
            }
            growth.Complete(fold);
        }
        sums.Grown = growth;
        return (growth, (ErrorTreeSummary)sums.Summarise(new SummaryDraft([], [], _ => null, new SummarySettings()))!, largest);
    }

    /// <summary>The plain grower on every row at once, binned with <paramref name="grown"/>'s columns.</summary>
    public (TreeNode Root, int[][] Codes) Reference(ErrorTreeGrowth grown)
    {
        var shard = Shard(0, Rows);
        var usable = grown.Usable;
        var codes = Enumerable.Range(0, Rows).Select(i =>
            grown.Codes(usable, ErrorTreeFeature.Values(Spec, shard.Outcome.Data.Raw.AsSpan(i * Width, Width)), [Region(i), Id(i)])).ToArray();
        var root = ErrorTreeGrower.Grow([.. usable.Select(c => c.Tree)], codes, [.. codes.Select(_ => 1L)],
            [.. Enumerable.Range(0, Rows).Select(i => Wrong(i) ? 1L : 0L)], Options.Depth, Options.MinLeaf);
        return (root, codes);
    }
}
