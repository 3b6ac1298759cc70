using ExplainCluster.Contracts;
using ExplainCluster.Engine.ErrorTree;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Tests.Engine;

/// <summary>The error tree on hand-built cells: errors exactly above a threshold give that split; the partial's round trip.</summary>
public sealed class ErrorTreeTests
{
    /// <summary>
    /// 200 samples, x = 0 … 199 standardized with mean 100 and std 10, z a pattern with no bearing on the errors, a region
    /// of three levels; the samples with x &gt; 120 are the misclassified ones. One saliency-like method with |a| = x's index.
    /// </summary>
    private static ErrorTreePartial Threshold(int bins)
    {
        TreeFeature[] features = [new("x", null, 100, 10), new("z", null, 0, 1)];
        var cells = Enumerable.Range(0, 200).Select(i => new ErrorCell([(float)((i - 100) / 10.0), (i * 7) % 13], [$"r{i % 3}"], 1, i > 120 ? 1 : 0, [1], [i, 1])).ToArray();
        return new ErrorTreePartial(new ErrorTreeSpec(Bins: bins), features, ["region"], ["saliency"], cells);
    }

    [Fact]
    public void Grow_ErrorsExactlyTheRowsAboveT_SplitsAtTAndStops()
    {
        var partial = Threshold(255);
        var tree = ErrorTreeSummaries.Of(partial, partial.Cells, 0.95);

        Assert.Equal((200L, 79L), (tree.Samples, tree.Errors));
        Assert.Equal(["x ≤ 120.5", "x > 120.5"], tree.Root!.Children.Select(c => c.Condition));
        // Both sides are pure: no split can raise the gain, so each is a leaf.
        Assert.All(tree.Root!.Children, c => Assert.Empty(c.Children));
        var worst = tree.Leaves[0];
        Assert.Equal(("x > 120.5", 79L, 79L, 1.0, 1.0), (worst.Rule, worst.N, worst.Errors, worst.ErrorRate.Value!.Value, worst.ErrorCoverage));
        Assert.Equal(("x ≤ 120.5", 121L, 0L), (tree.Leaves[1].Rule, tree.Leaves[1].N, tree.Leaves[1].Errors));
        // The leaf's mean |attribution| of x: the mean of 121 … 199.
        Assert.Equal(Enumerable.Range(121, 79).Average(), worst.Attributions.Single().MeanAbs[0], 12);
        Assert.Equal(1.0, worst.Attributions.Single().MeanAbs[1]);
    }

    [Fact]
    public void Grow_FewBins_SplitsAtTheEdgeNearestTheErrorsAndRefinesBelowIt()
    {
        // With 8 bins the edges are the quantiles 24.5, 49.5 … 174.5: the best first cut is 124.5, and the side below holds the
        // errors 121 … 124, which the next level separates as far as the edges allow.
        var partial = Threshold(8);
        var tree = ErrorTreeSummaries.Of(partial, partial.Cells, 0.95);
        Assert.Equal([24.5, 49.5, 74.5, 99.5, 124.5, 149.5, 174.5], tree.Columns[0].Edges!.Select(e => Math.Round(e, 5)));
        Assert.Equal(["x ≤ 124.5", "x > 124.5"], tree.Root!.Children.Select(c => c.Condition));
        Assert.Equal(1.0, tree.Leaves[0].ErrorRate.Value);
        Assert.Equal(200, tree.Leaves.Sum(l => l.N));
        Assert.Equal(79, tree.Leaves.Sum(l => l.Errors));
    }

    [Fact]
    public void Grow_MinLeafAboveHalf_NoSplit()
    {
        var partial = Threshold(255) is var p ? p with { Options = new ErrorTreeSpec(MinLeaf: 101, Bins: 255) } : null!;
        var tree = ErrorTreeSummaries.Of(partial, partial.Cells, 0.95);
        var leaf = Assert.Single(tree.Leaves);
        Assert.Equal(("all samples", 200L, 79L), (leaf.Rule, leaf.N, leaf.Errors));
    }

    [Fact]
    public void Grow_ErrorsByRegion_SplitsOnTheMetadataLevels()
    {
        // Errors exactly in region r1: the best split is r1 against the rest (x and z cannot separate them).
        var partial = Threshold(32);
        partial = partial with { Cells = [.. partial.Cells.Select(c => c with { Errors = c.Metadata[0] == "r1" ? 1 : 0 })] };
        var tree = ErrorTreeSummaries.Of(partial, partial.Cells, 0.95);
        Assert.Equal(["region = r1", "region ≠ r1"], tree.Root!.Children.Select(c => c.Condition).Order(StringComparer.Ordinal));
        Assert.Equal(("region = r1", 1.0), (tree.Leaves[0].Rule, tree.Leaves[0].ErrorRate.Value!.Value));
    }

    [Fact]
    public void Partial_RoundTrip_SameBytes()
    {
        var partial = Threshold(32);
        // One cell of two rows (its sums exact expansions), one with a missing metadata value.
        partial = partial with { Features = [partial.Features[0], new TreeFeature("c", ["a", "b"], 0, 1)],
            Cells = [partial.Cells[0] with { Metadata = [null] }, partial.Cells[1].Merge(partial.Cells[1] with { Sums = [1e-20, 3] }), .. partial.Cells[2..]] };
        var bytes = ErrorTreeFeature.Instance.Encode(partial);
        var back = ErrorTreeFeature.Instance.Decode(bytes, "test");
        Assert.Equal(bytes, ErrorTreeFeature.Instance.Encode(back));
        Assert.Null(back.Cells[0].Metadata[0]);
        Assert.Equal([1 + 1e-20, 1 + 3], back.Cells[1].Exact!.Select(e => e.Value));
        Assert.Equal([1e-20, 1], back.Cells[1].Exact![0].Partials);
        Assert.Equal(["a", "b"], back.Features[1].Levels!);
    }

    [Fact]
    public void Sums_MoreDistinctRowsThanTheCapOverTwoShards_NotGrownWithTheCountsKept()
    {
        // Two shards of 60,000 distinct rows each: each under the cap, together over it.
        ErrorTreePartial Shard(int start) => new(new ErrorTreeSpec(), [new("x", null, 0, 1)], [], [],
            [.. Enumerable.Range(start, 60_000).Select(i => new ErrorCell([i], [], 1, i % 5 == 0 ? 1 : 0, [], []))], 60_000, 12_000);
        var sums = ErrorTreeFeature.Instance.NewSums(2);
        sums.Fold(Shard(0));
        Assert.False(sums.TooMany);
        sums.Fold(Shard(60_000));
        Assert.True(sums.TooMany);
        Assert.Empty(sums.Cells);
        var summary = (ErrorTreeSummary)sums.Summarise(new ExplainCluster.Engine.Features.SummaryDraft([], [], _ => null, new ExplainCluster.Engine.Features.SummarySettings()))!;
        Assert.Equal((120_000L, 24_000L, null), (summary.Samples, summary.Errors, summary.Root));
        Assert.Empty(summary.Leaves);
        Assert.Contains("more than 100000 distinct rows", summary.NotGrown, StringComparison.Ordinal);
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
