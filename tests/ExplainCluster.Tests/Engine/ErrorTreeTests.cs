using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.ErrorTree;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;

using Table = ExplainCluster.Tests.Engine.ErrorTreeTable;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The error tree grown level by level (<see cref="ErrorTreeGrowth"/>, <see cref="ErrorTreeLevel"/>) on synthetic tables run through
/// the explain partial, the bins' merge and every level's shard counts, as the tree pass runs them: the same tree as
/// <see cref="ErrorTreeGrower.Grow"/> on the whole table binned with the same edges, the same summary in 3 shards as in 1, and a
/// table of more distinct rows than cells could hold grows its tree.
/// </summary>
public sealed class ErrorTreeTests
{
    /// <summary>200 rows, x = 0 … 199, z a pattern with no bearing on the errors; the rows with x &gt; 120 are misclassified.</summary>
    private static Table Threshold(int bins, int minLeaf = 20) =>
        new(200, i => i, i => i % 3, i => (i * 7) % 13, i => $"r{i % 3}", i => i > 120, _ => true, new ErrorTreeSpec(MinLeaf: minLeaf, Bins: bins));

    /// <summary>20 rows for a job's passes (two shards of 10): errors where x &gt; 12 or in region r1, every row explained.</summary>
    public static Table Table20() =>
        new(20, i => i, i => i % 3, i => i % 5, i => $"r{i % 2}", i => i > 12 || i % 4 == 1, _ => true, new ErrorTreeSpec(Depth: 2, MinLeaf: 1)) { Id = _ => "batch-1" };

    /// <summary>Node by node: the same split (column, threshold, levels), samples and errors; each leaf's rows' mean |attribution|.</summary>
    private static void AssertSameTree(Table table, ErrorTreeGrowth grown, TreeNode expected, int node, int[][] codes, List<int> rows)
    {
        var actual = grown.Nodes[node];
        Assert.Equal((expected.N, expected.Errors), (actual.N, actual.Errors));
        Assert.Equal((long)rows.Count, actual.N);
        if (expected.Split is not { } split)
        {
            Assert.Null(actual.Split);
            var explained = rows.Where(table.Explained).ToArray();
            Assert.Equal(explained.Length, actual.Explained[0]);
            // x's |saliency| as the maps hold it (float), summed exactly by the test.
            var expectedSum = new ExplainCluster.Engine.Stats.ExactSum();
            foreach (var i in explained) expectedSum.Add((double)(float)table.X(i));
            Assert.Equal(expectedSum.Value, ExplainCluster.Engine.Stats.ExactSum.Of(actual.Sums[0]).Value);
            return;
        }
        Assert.Equal((split.Column, split.Threshold, split.Gain), (actual.Split!.Column, actual.Split.Threshold, actual.Split.Gain));
        Assert.Equal(split.Left, actual.Split.Left);
        AssertSameTree(table, grown, expected.LeftChild!, actual.Left, codes, [.. rows.Where(i => ErrorTreeGrower.GoesLeft(split, codes[i]))]);
        AssertSameTree(table, grown, expected.RightChild!, actual.Right, codes, [.. rows.Where(i => !ErrorTreeGrower.GoesLeft(split, codes[i]))]);
    }

    [Fact]
    public void Grow_ErrorsExactlyTheRowsAboveT_SplitsAtTAndStops()
    {
        var tree = Threshold(255).Grow(200).Summary;

        Assert.Equal((200L, 79L), (tree.Samples, tree.Errors));
        Assert.Equal(["x ≤ 120.5", "x > 120.5"], tree.Root!.Children.Select(c => c.Condition));
        // Both sides are pure: no split can raise the gain, so each is a leaf.
        Assert.All(tree.Root!.Children, c => Assert.Empty(c.Children));
        var worst = tree.Leaves[0];
        Assert.Equal(("x > 120.5", 79L, 79L, 1.0, 1.0), (worst.Rule, worst.N, worst.Errors, worst.ErrorRate.Value!.Value, worst.ErrorCoverage));
        Assert.Equal(("x ≤ 120.5", 121L, 0L), (tree.Leaves[1].Rule, tree.Leaves[1].N, tree.Leaves[1].Errors));
        // The leaf's mean |attribution| of x: the mean of 121 … 199; of z: 1.
        Assert.Equal(Enumerable.Range(121, 79).Average(), worst.Attributions.Single().MeanAbs[0], 12);
        Assert.Equal(1.0, worst.Attributions.Single().MeanAbs[2]);
        // The identifier column has more levels than the tree splits on: listed without its levels.
        Assert.Equal(("metadata", false, null), (tree.Columns[4].Kind, tree.Columns[4].Split, tree.Columns[4].Levels));
        Assert.Equal(200, tree.BinSample);
    }

    [Fact]
    public void Grow_FewBins_SplitsAtTheEdgeNearestTheErrorsAndRefinesBelowIt()
    {
        // With 8 bins the edges are the quantiles 24.5, 49.5 … 174.5: the best first cut is 124.5, and the side below holds the
        // errors 121 … 124, which the next level separates as far as the edges allow.
        var tree = Threshold(8).Grow(200).Summary;
        Assert.Equal([24.5, 49.5, 74.5, 99.5, 124.5, 149.5, 174.5], tree.Columns[0].Edges!.Select(e => Math.Round(e, 5)));
        Assert.Equal(["x ≤ 124.5", "x > 124.5"], tree.Root!.Children.Select(c => c.Condition));
        Assert.Equal(1.0, tree.Leaves[0].ErrorRate.Value);
        Assert.Equal(200, tree.Leaves.Sum(l => l.N));
        Assert.Equal(79, tree.Leaves.Sum(l => l.Errors));
    }

    [Fact]
    public void Grow_MinLeafAboveHalf_NoSplit()
    {
        var tree = Threshold(255, minLeaf: 101).Grow(200).Summary;
        var leaf = Assert.Single(tree.Leaves);
        Assert.Equal(("all samples", 200L, 79L), (leaf.Rule, leaf.N, leaf.Errors));
    }

    [Fact]
    public void Grow_ErrorsByRegion_SplitsOnTheMetadataLevels()
    {
        // Errors exactly in region r1 (rows i % 4 == 1): x, z and c cannot separate them as well.
        var table = Threshold(32) with { Region = i => $"r{i % 4}", Wrong = i => i % 4 == 1 };
        var tree = table.Grow(200).Summary;
        Assert.Equal(["region = r1", "region ≠ r1"], tree.Root!.Children.Select(c => c.Condition).Order(StringComparer.Ordinal));
        Assert.Equal(("region = r1", 1.0), (tree.Leaves[0].Rule, tree.Leaves[0].ErrorRate.Value!.Value));
    }

    /// <summary>
    /// 3,000 rows whose errors depend on x, c and region together, saliency on every third row: depth 3 grown level by level equals
    /// the plain grower on the whole table binned alike, node by node (splits, gains, counts, each leaf's attribution sums).
    /// </summary>
    private static Table Mixed() => new(3000, i => (i * 7919) % 1000 / 10.0, i => (i * 31) % 3, i => i % 17, i => i % 11 == 0 ? null : $"r{i % 5}",
        i => ((i * 7919) % 1000 > 700 && (i * 31) % 3 != 1) || (i % 5 == 2 && i % 7 < 3) || i % 23 == 0, i => i % 3 == 0, new ErrorTreeSpec(Depth: 3, MinLeaf: 20, Bins: 16));

    [Fact]
    public void Grow_LevelByLevel_EqualsThePlainGrowerOnTheWholeTableBinnedAlike()
    {
        var table = Mixed();
        var (grown, summary, _) = table.Grow(1000, 1000, 1000);
        var (root, codes) = table.Reference(grown);
        Assert.NotNull(root.Split);
        Assert.NotNull(root.LeftChild!.Split);
        AssertSameTree(table, grown, root, 0, codes, [.. Enumerable.Range(0, table.Rows)]);
        Assert.Equal(3, grown.Nodes.Max(n => n.Depth));
        Assert.Contains(summary.Columns, c => c.Name == "region" && c.Levels!.SequenceEqual(["(missing)", "r0", "r1", "r2", "r3", "r4"]));
    }

    [Fact]
    public void Grow_ThreeUnevenShards_SameSummaryAsOneByteForByte()
    {
        var table = Mixed();
        var one = JsonSerializer.Serialize(table.Grow(3000).Summary);
        Assert.Equal(one, JsonSerializer.Serialize(table.Grow(1234, 17, 1749).Summary));
        Assert.Contains("\"Leaves\":[{", one, StringComparison.Ordinal);
    }

    [Fact]
    public void Grow_RowsKeptFromTheFirstLevel_SameSummaryAsRowsReadAtEachLevel()
    {
        // A silo keeps each shard's codes and errors from level 0 on (TreeRowsCache); the tree must not tell the difference.
        var table = Mixed();
        var cache = new TreeRowsCache();
        var kept = table.Grow(cache, 1234, 17, 1749);
        Assert.Equal(3, cache.Count);
        Assert.Equal(JsonSerializer.Serialize(table.Grow(1234, 17, 1749).Summary), JsonSerializer.Serialize(kept.Summary));
        Assert.Equal(3, kept.Grown.Nodes.Max(n => n.Depth));
    }

    /// <summary>
    /// A shard's rows as a tree attempt stages them and a later level reads them back: every row's codes, error and dataset
    /// index as computed, for a shard of consecutive rows and one of kept rows; a file cut short or of another kind reads as none.
    /// </summary>
    [Fact]
    public void TreeRows_EncodedAndDecoded_SameCodesErrorsAndIndices()
    {
        var table = Mixed();
        var (grown, _, _) = table.Grow(3000);
        var shard = table.Shard(1000, 1000);
        var kept = shard.Outcome.Data with { Kept = [.. Enumerable.Range(0, 1000).Select(i => 5000L + 3 * i)] };
        foreach (var data in new[] { shard.Outcome.Data, kept })
        {
            var rows = TreeRows.Of(grown, ErrorTreeTable.Spec, data, shard.Predictions);
            var bytes = rows.Encode();
            // Encoded into a larger buffer (as a rented one) and decoded from bytes at an offset of a larger array: the codes stay
            // in the array read, so they must be read at the slice's own offset.
            var buffer = new byte[rows.EncodedLength + 40];
            Array.Fill(buffer, (byte)0xAB);
            rows.Encode(buffer.AsSpan(7));
            Assert.Equal(bytes, buffer.AsSpan(7, bytes.Length).ToArray());
            var back = TreeRows.Decode(buffer.AsMemory(7, bytes.Length))!;
            Assert.Equal((rows.Count, rows.Width, rows.Bytes), (back.Count, back.Width, back.Bytes));
            Assert.Equal(rows.Errors, back.Errors);
            Assert.Contains(true, back.Errors);
            var (a, b) = (new int[rows.Width], new int[rows.Width]);
            for (var r = 0; r < rows.Count; r++)
            {
                rows.CodesOf(r, a);
                back.CodesOf(r, b);
                Assert.Equal(a, b);
                Assert.Equal(rows.IndexOf(r), back.IndexOf(r));
            }
            Assert.Null(TreeRows.Decode(bytes.AsMemory(0, bytes.Length - 1)));
            Assert.Null(TreeRows.Decode("PAR1PAR1PAR1PAR1PAR1PAR1PAR1"u8.ToArray()));
        }
    }

    [Fact]
    public void TreeRowsCache_KeepsOneJobsRowsUpToItsBytes()
    {
        var table = Mixed();
        var (grown, _, _) = table.Grow(3000);
        var shard = table.Shard(0, 1000);
        var rows = TreeRows.Of(grown, ErrorTreeTable.Spec, shard.Outcome.Data, shard.Predictions);
        Assert.True(rows.Compact);
        var cache = new TreeRowsCache(maxBytes: 2 * rows.Bytes);
        for (var s = 0; s < 3; s++) cache.Keep(new TreeRowsKey("a", s, 1, grown.ColumnsKey), rows);
        Assert.Equal(2, cache.Count); // the third is past the bytes: read at each level instead
        Assert.Same(rows, cache.Get(new TreeRowsKey("a", 1, 1, grown.ColumnsKey)));
        Assert.Null(cache.Get(new TreeRowsKey("a", 1, 2, grown.ColumnsKey))); // another explain attempt's predictions
        cache.Drop(new TreeRowsKey("a", 0, 1, grown.ColumnsKey));
        cache.Keep(new TreeRowsKey("a", 2, 1, grown.ColumnsKey), rows);
        Assert.Equal(2, cache.Count);
        cache.Keep(new TreeRowsKey("b", 0, 1, grown.ColumnsKey), rows); // another job's first rows drop the last job's
        Assert.Equal(1, cache.Count);
        Assert.Null(cache.Get(new TreeRowsKey("a", 2, 1, grown.ColumnsKey)));
    }

    [Fact]
    public void Grow_MoreDistinctRowsThanCellsWouldHold_GrowsFromTheSampleBinsWithPartialsOfTheTreesSize()
    {
        // 150,000 distinct rows (the cell-based tree stopped at 100,000): the bins come from the 10,000-row sample, and the tree equals
        // the plain grower's on every row binned with them. A level's partial is nodes × columns × bins, not rows.
        var table = new Table(150_000, i => (i * 7919L) % 150_000 / 1000.0, i => i % 3, i => i % 1000, i => $"r{i % 4}",
            i => (i * 7919L) % 150_000 > 120_000 ^ i % 4 == 3, i => i % 50 == 0, new ErrorTreeSpec());
        var (grown, summary, largest) = table.Grow(50_000, 50_000, 50_000);
        Assert.Equal(ErrorTreeFeature.SampleSize, summary.BinSample);
        Assert.Equal(31, summary.Columns[0].Edges!.Length);
        Assert.True(summary.Leaves.Length >= 4, $"{summary.Leaves.Length} leaves");
        var (root, codes) = table.Reference(grown);
        AssertSameTree(table, grown, root, 0, codes, [.. Enumerable.Range(0, table.Rows)]);
        Assert.True(largest < 8 * (32 + 3 + 4) * 2 * 8 + 4096, $"a level's partial of {largest} bytes");
    }

    [Fact]
    public void Growth_RoundTrip_SameBytes()
    {
        var grown = Mixed().Grow(3000).Grown;
        var bytes = grown.Encode();
        Assert.Equal(bytes, ErrorTreeGrowth.Decode(bytes).Encode());
        Assert.True(ErrorTreeGrowth.Decode(bytes).Done);
    }

    [Fact]
    public void Fold_PartialOfAnotherLevel_Refused()
    {
        var table = Threshold(32);
        var shard = table.Shard(0, 200);
        var sums = ErrorTreeFeature.Instance.NewSums(2);
        sums.Fold(ErrorTreeFeature.Instance.Compute(shard.Outcome)!);
        var growth = sums.Begin()!;
        var counts = ErrorTreeLevel.Compute(growth, Table.Spec, shard.Outcome.Data, shard.Predictions, shard.Attributions);
        var fold = new ErrorTreeLevel.Fold(growth);
        Assert.Null(fold.Add(counts));
        growth.Complete(fold);
        Assert.Equal("the error tree's level 0 partial arrived in level 1", new ErrorTreeLevel.Fold(growth).Add(counts));
    }

    [Fact]
    public void Options_DefaultsForATableOnly_FalseTurnsItOffAnImageJobRefusesIt()
    {
        static string Images(string extra) => ExplainCluster.Tests.Infrastructure.TestPaths.FashionJob("images.npy", null, "out", extra: extra);
        Assert.Null(ExplainCluster.Engine.Jobs.JobFile.Parse(Images(""), "/data").ErrorTree);
        Assert.Null(ExplainCluster.Engine.Jobs.JobFile.Parse(Images(""", "errorTree": false"""), "/data").ErrorTree);
        Assert.Equal("errorTree: only a table job (data.table) grows an error tree", Assert.Throws<ExplainCluster.Engine.ExplainException>(() =>
            ExplainCluster.Engine.Jobs.JobFile.Parse(Images(""", "errorTree": {}"""), "/data")).Message);

        var table = new DataSpec("t.csv", null, new PreprocessSpec(1, null, null, null), Table: new TableSpec([], "label", []));
        Assert.Equal(new ErrorTreeSpec(3, 20, 32), ErrorTreeOptions.Read(null, table));
        Assert.Equal(new ErrorTreeSpec(2, 20, 64), ErrorTreeOptions.Read(System.Text.Json.JsonDocument.Parse("""{"depth": 2, "bins": 64}""").RootElement, table));
        Assert.Null(ErrorTreeOptions.Read(null, table with { Table = table.Table! with { Label = null } }));
        Assert.Equal("errorTree: the table has no label column (data.label), so no sample is known to be misclassified",
            Assert.Throws<ExplainCluster.Engine.ExplainException>(() => ErrorTreeOptions.Read(System.Text.Json.JsonDocument.Parse("{}").RootElement,
                table with { Table = table.Table! with { Label = null } })).Message);
    }
}
