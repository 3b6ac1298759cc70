using ExplainCluster.Contracts;
using ExplainCluster.Engine.Dependence;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Data;
using ExplainCluster.Tests.Infrastructure;
using TorchSharp;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The dependence views on the credit MLP against a direct computation in the test: one row at a time through TorchSharp,
/// the feature set by hand in the row's vector; the sample against its definition; the grid's quantiles within their bound.
/// </summary>
public sealed class DependenceTests
{
    private const string Options = """{ "features": ["Income", "Home"], "grid": 6, "ice": 4, "sample": 50, "seed": 3, "permutation": { "repeats": 3, "seed": 5 } }""";

    private static JobSpec Job(string dependence, int batch) => JobFile.Parse($$"""
        { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] }, "data": {{TableFiles.CreditData(TableFiles.Credit)}},
          "methods": { "saliency": {} }, "output": "out", "batchSize": {{batch}}, "dependence": {{dependence}} }
        """, "/tmp");

    private static async Task<ShardData> ReadAsync(JobSpec job, long start, long count) =>
        await (await Dataset.OpenAsync(job, new BlobLocator(null))).ReadAsync(new ShardSpec(0, start, count));

    private static (DependenceWork Work, DependenceFeature.Sums Sums) Plan(JobSpec job, params ShardData[] shards)
    {
        var sums = DependenceFeature.Instance.NewSums(2);
        foreach (var shard in shards) sums.Fold(DependenceFeature.Instance.Encode(DependenceSample.Of(shard)!), "shard");
        return (sums.Plan(job, null)!, sums);
    }

    private static DependenceSummary Summarise(DependenceFeature.Sums sums, params DependencePostPartial[] posts)
    {
        for (var s = 0; s < posts.Length; s++) sums.AddPost(new PostPartial(s, 1, "silo", 0, null, [], DependenceFeature.EncodePost(posts[s])));
        return (DependenceSummary)sums.Summarise(new SummaryDraft(["bad", "good"], [], _ => null, new SummarySettings()))!;
    }

    [Fact]
    public async Task Compute_CreditMlp_PdpIceAleAndPermutationEqualALoopOverRows()
    {
        var job = Job(Options, batch: 7);
        var data = await ReadAsync(job, 0, 120);
        var (work, sums) = Plan(job, data);
        using var model = TinyModels.Load("tabular/credit_mlp.pt");
        var summary = Summarise(sums, DependenceWorker.Compute(model, job, data, work));

        var groups = TableGames.Credit;
        const int width = 26;
        float[] Row(int i) => data.Raw.AsSpan(i * width, width).ToArray();
        double[] Probabilities(float[] v)
        {
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            return [.. model.Forward(torch.tensor(v, [1, width])).softmax(1).to(torch.float64).data<double>()];
        }
        float[] Set(float[] v, int f, float value)
        {
            var x = (float[])v.Clone();
            if (groups.Widths[f] == 1) x[groups.Offsets[f]] = value;
            else
            {
                Array.Clear(x, groups.Offsets[f], groups.Widths[f]);
                x[groups.Offsets[f] + (int)value] = 1;
            }
            return x;
        }

        int[] curveFeatures = [Array.IndexOf(groups.Names, "Income"), Array.IndexOf(groups.Names, "Home")];
        Assert.Equal(curveFeatures, work.Features);
        for (var k = 0; k < 2; k++)
        {
            var (f, grid, curves) = (curveFeatures[k], work.Grid[k], summary.Features[k]);
            var g = grid.Length;
            var each = Enumerable.Range(0, 120).Select(i => grid.Select(z => Probabilities(Set(Row(i), f, z))).ToArray()).ToArray();
            for (var j = 0; j < g; j++)
                for (var c = 0; c < 2; c++) Assert.Equal(each.Average(e => e[j][c]), curves.Pdp[j][c], 1e-6);
            // ICE: the sample's first four rows in key order, ascending, each its own curve.
            Assert.Equal(work.Ice, curves.IceRows);
            for (var r = 0; r < work.Ice.Length; r++)
                for (var j = 0; j < g; j++)
                    for (var c = 0; c < 2; c++) Assert.Equal(each[work.Ice[r]][j][c], curves.Ice[r][j][c], 1e-6);
            if (k == 1)
            {
                Assert.Null(curves.Ale); // Home is categorical: its grid is its six levels
                Assert.Equal(6, g);
                continue;
            }
            // ALE: each row in the bin of its own value (z_{k−1} < v ≤ z_k, the ends taking what lies beyond), the bins' mean
            // differences accumulated from 0 and centred on the rows' mean of the curve (each bin the mean of its ends).
            var (sum, count) = (new double[g - 1, 2], new long[g - 1]);
            for (var i = 0; i < 120; i++)
            {
                var v = Row(i)[groups.Offsets[f]];
                var bin = Enumerable.Range(1, g - 1).FirstOrDefault(b => v <= grid[b], g - 1);
                count[bin - 1]++;
                for (var c = 0; c < 2; c++) sum[bin - 1, c] += each[i][bin][c] - each[i][bin - 1][c];
            }
            Assert.Equal(count, curves.AleCounts);
            for (var c = 0; c < 2; c++)
            {
                var ale = new double[g];
                for (var b = 1; b < g; b++) ale[b] = ale[b - 1] + (count[b - 1] == 0 ? 0 : sum[b - 1, c] / count[b - 1]);
                var centre = Enumerable.Range(1, g - 1).Sum(b => count[b - 1] * (ale[b - 1] + ale[b]) / 2) / 120;
                for (var j = 0; j < g; j++) Assert.Equal(ale[j] - centre, curves.Ale![j][c], 1e-6);
            }
        }

        // Permutation importance: row i's feature j takes the sample's value at SplitMix(SplitMix(seed, j·R + r), i) mod m.
        var labels = data.Labels!;
        long Predicted(float[] v) => Probabilities(v) is var p && p[1] > p[0] ? 1 : 0;
        var baseCorrect = Enumerable.Range(0, 120).Count(i => Predicted(Row(i)) == labels[i]);
        Assert.Equal((double)baseCorrect / 120, summary.Permutation!.Accuracy, 12);
        for (var j = 0; j < groups.Names.Length; j++)
        {
            var values = work.Values[j];
            for (var r = 0; r < 3; r++)
            {
                var correct = Enumerable.Range(0, 120).Count(i =>
                    Predicted(Set(Row(i), j, values[(int)(SampleSeeds.For((long)SampleSeeds.For(5, j * 3 + r), i) % (ulong)values.Length)])) == labels[i]);
                Assert.Equal((double)(baseCorrect - correct) / 120, summary.Permutation.Features[j].Drops[r], 12);
            }
        }
    }

    [Fact]
    public async Task Sample_ThreeShards_IsTheWholeTablesSmallestKeysAndTheSameWork()
    {
        var job = Job(Options, batch: 64);
        var whole = await ReadAsync(job, 0, 120);
        var (single, _) = Plan(job, whole);
        var (sharded, _) = Plan(job, await ReadAsync(job, 0, 40), await ReadAsync(job, 40, 40), await ReadAsync(job, 80, 40));
        // The sample is the 50 rows with the smallest SplitMix(seed, index); ICE takes its first four in key order.
        var smallest = Enumerable.Range(0, 120).OrderBy(i => SampleSeeds.For(3, i)).ToArray();
        Assert.Equal(smallest.Take(4).Select(i => (long)i).Order(), single.Ice);
        Assert.Equal(single.Ice, sharded.Ice);
        Assert.Equal(single.Grid, sharded.Grid);
        Assert.Equal(single.Values, sharded.Values);
        // Income's grid: the sample's quantiles at j/5 by the inverted empirical CDF (the smallest value whose rank reaches q·m).
        var income = Array.IndexOf(TableGames.Credit.Names, "Income");
        var sorted = smallest.Take(50).Select(i => whole.Raw[i * 26 + TableGames.Credit.Offsets[income]]).Order().ToArray();
        var expected = Enumerable.Range(0, 6).Select(j => sorted[Math.Max(0, (int)Math.Ceiling(j / 5.0 * 50) - 1)]).Distinct().ToArray();
        Assert.Equal(expected, single.Grid[0]);
    }

    [Fact]
    public async Task Compute_BatchOfSevenOrAll_GivesTheSameBits()
    {
        var data = await ReadAsync(Job(Options, batch: 7), 0, 60);
        using var model = TinyModels.Load("tabular/credit_mlp.pt");
        var (small, large) = (Job(Options, batch: 7), Job(Options, batch: 60));
        var (work, _) = Plan(small, data);
        Assert.Equal(DependenceFeature.EncodePost(DependenceWorker.Compute(model, small, data, work)),
            DependenceFeature.EncodePost(DependenceWorker.Compute(model, large, data, work)));
    }

    [Fact]
    public async Task Quantiles_OfASampleOf300_AreWithinTheDkwBoundOfTheWholeTablesLevels()
    {
        var job = Job("""{ "features": ["Income", "Age", "Amount"], "grid": 20, "sample": 300, "seed": 11 }""", batch: 64);
        var whole = await ReadAsync(job, 0, 4454);
        var (work, _) = Plan(job, whole);
        var epsilon = DependenceSample.QuantileError(300, 4454, 0.95);
        Assert.Equal(Math.Sqrt(Math.Log(40) / 600), epsilon, 12);
        for (var k = 0; k < 3; k++)
        {
            var offset = TableGames.Credit.Offsets[work.Features[k]];
            var column = Enumerable.Range(0, 4454).Select(i => whole.Raw[i * 26 + offset]).ToArray();
            var sampleColumn = work.Values[work.Features[k]];
            foreach (var z in work.Grid[k])
            {
                // The point's level in the sample (the share of the sample at or below it, and strictly below it) against the table's.
                double Share(float[] values, bool strict) => values.Count(v => strict ? v < z : v <= z) / (double)values.Length;
                Assert.InRange(Share(column, false), Share(sampleColumn, false) - epsilon, Share(sampleColumn, false) + epsilon);
                Assert.InRange(Share(column, true), Share(sampleColumn, true) - epsilon, Share(sampleColumn, true) + epsilon);
            }
        }
    }

    [Theory]
    [InlineData(false, true, true, """{ "grid": 10 }""", "dependence: only for a table (data.table)")]
    [InlineData(true, false, true, """{ "permutation": { "repeats": 3 } }""", "dependence.permutation: permutation importance is an accuracy drop and needs labels (data.label)")]
    [InlineData(true, true, false, """{ "features": 2 }""", "dependence.features: a number picks the features with the largest mean |attribution|, and the job has no method; name the features instead")]
    public void Read_BlockTheJobCannotHave_IsOneLineNamingTheField(bool table, bool labelled, bool methods, string block, string message)
    {
        var spec = new TableSpec([new TableFeature("a", false, FeatureEncoding.Identity, 0, 1, null, null), new TableFeature("b", false, FeatureEncoding.Identity, 0, 1, null, null)],
            labelled ? "label" : null, []);
        var data = new DataSpec("t.csv", null, new PreprocessSpec(1, null, null, null), Table: table ? spec : null);
        using var json = System.Text.Json.JsonDocument.Parse(block);
        var e = Assert.Throws<ExplainCluster.Engine.ExplainException>(() =>
            DependenceOptions.Read(json.RootElement, data, methods ? [new MethodSpec("saliency", null)] : []));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Read_NoPermutationBlock_IsOnWithLabelsAndOffWithout()
    {
        using var json = System.Text.Json.JsonDocument.Parse("{}");
        TableSpec Table(string? label) => new([new TableFeature("a", false, FeatureEncoding.Identity, 0, 1, null, null)], label, []);
        DependenceSpec Read(string? label) => DependenceOptions.Read(json.RootElement, new DataSpec("t.csv", null, new PreprocessSpec(1, null, null, null), Table: Table(label)),
            [new MethodSpec("saliency", null)])!;
        Assert.Equal(DependenceOptions.DefaultRepeats, Read("label").Repeats);
        Assert.Equal(0, Read(null).Repeats);
        Assert.Equal(1, Read("label").Top); // 5 by default, at most the table's one feature
    }
}
