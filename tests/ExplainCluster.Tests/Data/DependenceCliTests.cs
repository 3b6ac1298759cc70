using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// The dependence views through <c>explain run</c>: on the linear fixture, with logits as the response, partial dependence is a
/// line of the weight's slope and ALE is it centred; a sharded run's section equals a single run's byte for byte; a bad block
/// is one line and exit 1.
/// </summary>
public sealed class DependenceCliTests
{
    // logits = W [a, (b − 1) / 2, c=x, c=y, c=z] + bias (tools/make_tabular_fixtures.py).
    private static readonly double[][] W = [[1, -2, 0.5, -1, 3], [-1, 0.25, 2, 0, -0.5]];

    private static async Task<(string Folder, CliResult Run)> RunAsync(string dependence, int shardSize, string? folder = null)
    {
        folder ??= TestPaths.NewFolder();
        var job = Path.Combine(folder, $"job-{shardSize}.json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" },
              "data": {{TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv"))}},
              "methods": { "grad-x-input": {} }, "target": "label", "shardSize": {{shardSize}}, "output": "out-{{shardSize}}",
              "dependence": {{dependence}} }
            """);
        return (folder, await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job));
    }

    private const string Linear = """{ "features": ["a", "b", "c"], "grid": 4, "ice": 3, "sample": 10, "response": "logit", "permutation": { "repeats": 3, "seed": 7 } }""";

    [Fact]
    public async Task Run_LinearModelLogits_PdpHasTheWeightsSlopeAndAleIsItCentred()
    {
        var (folder, run) = await RunAsync(Linear, shardSize: 2);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var summary = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(folder, "out-2", "summary.json")));
        var dependence = summary.RootElement.GetProperty("dependence");
        Assert.Equal("logit", dependence.GetProperty("response").GetString());
        Assert.Equal(6, dependence.GetProperty("rows").GetInt64());
        Assert.Equal(0, dependence.GetProperty("quantileError").GetDouble()); // the sample is the whole table
        var features = dependence.GetProperty("features").EnumerateArray().ToArray();
        Assert.Equal(["a", "b", "c"], features.Select(f => f.GetProperty("feature").GetString()));
        // a is as it is and b is (b − 1) / 2: the slope per unit of the table is W[c][0] and W[c][1] / 2.
        double[] slopes = [1, 0.5];
        for (var j = 0; j < 2; j++)
        {
            var grid = Doubles(features[j].GetProperty("grid"));
            // a's values 1.5, −0.5, 3, 0, 2.5, 1: quantiles at 0, 1/3, 2/3, 1 by the inverted CDF are −0.5, 0, 1.5, 3.
            if (j == 0) Assert.Equal([-0.5, 0, 1.5, 3], grid);
            var pdp = Rows(features[j].GetProperty("pdp"));
            var ale = Rows(features[j].GetProperty("ale"));
            var counts = features[j].GetProperty("aleCounts").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal(6, counts.Sum());
            for (var c = 0; c < 2; c++)
            {
                var slope = W[c][j] * slopes[j];
                // PDP centred as ALE is: minus the rows' mean of the curve, each bin taking the mean of its two ends.
                var centre = Enumerable.Range(1, grid.Length - 1).Sum(k => counts[k - 1] * (pdp[k - 1][c] + pdp[k][c]) / 2) / 6;
                for (var g = 0; g < grid.Length; g++)
                {
                    Assert.Equal(slope * (grid[g] - grid[0]), pdp[g][c] - pdp[0][c], 1e-5);
                    Assert.Equal(slope * (grid[g] - grid[0]), ale[g][c] - ale[0][c], 1e-5);
                    Assert.Equal(pdp[g][c] - centre, ale[g][c], 1e-5);
                }
            }
        }
        // c's levels: the logit moves by W[c][2 + level] − W[c][2]; no ALE for a categorical feature.
        var levels = Rows(features[2].GetProperty("pdp"));
        Assert.Equal(JsonValueKind.Null, features[2].GetProperty("ale").ValueKind);
        for (var l = 0; l < 3; l++)
            for (var c = 0; c < 2; c++) Assert.Equal(W[c][2 + l] - W[c][2], levels[l][c] - levels[0][c], 1e-5);
        // ICE: three rows, each a line of the same slope (the model is additive), their mean offset from the PDP's.
        var ice = features[0].GetProperty("ice").EnumerateArray().Select(Rows).ToArray();
        Assert.Equal(3, ice.Length);
        foreach (var curve in ice) Assert.Equal(curve[3][0] - curve[0][0], 3.5 * W[0][0], 1e-5);
        // Attribution against value: each sampled row's point pairs its value (the table's units) with grad-x-input's attribution of
        // the feature, W[label] times the feature as the model takes it (a; (b − 1) / 2; c's one-hot element, 1), and each bin's
        // mean is the mean of its rows'. Rows: (a, b with its missing value 0.5, c's level, label), from tabular_linear.csv.
        (double A, double B, int C, int Label)[] rows = [(1.5, 2, 0, 0), (-0.5, 4, 1, 1), (3, 0.5, 2, 0), (0, -2, 1, 1), (2.5, 1, 2, 1), (1, 0.5, 0, 0)];
        var points = await Task.WhenAll(features.Select(f => NpyFiles.ReadFloatsAsync(Path.Combine(folder, "out-2", f.GetProperty("points").GetString()!))));
        var sampleRow = points[0][..6].Select(a => Array.FindIndex(rows, r => r.A == a)).ToArray();
        Assert.Equal([0, 1, 2, 3, 4, 5], sampleRow.Order());
        for (var j = 0; j < 3; j++)
        {
            var attribution = Assert.Single(features[j].GetProperty("attributions").EnumerateArray());
            Assert.Equal(("grad-x-input", 6L), (attribution.GetProperty("method").GetString(), attribution.GetProperty("n").GetInt64()));
            var expected = sampleRow.Select(i => rows[i]).Select(r => j switch
            {
                0 => (Value: r.A, Attribution: W[r.Label][0] * r.A),
                1 => (Value: r.B, Attribution: W[r.Label][1] * (r.B - 1) / 2),
                _ => (Value: (double)r.C, Attribution: W[r.Label][2 + r.C]),
            }).ToArray();
            for (var r = 0; r < 6; r++)
            {
                Assert.Equal(expected[r].Value, points[j][r], 1e-5);
                Assert.Equal(expected[r].Attribution, points[j][6 + r], 1e-5);
            }
            foreach (var bin in attribution.GetProperty("bins").EnumerateArray())
            {
                var (lower, upper) = (bin.GetProperty("lower").GetDouble(), bin.GetProperty("upper").GetDouble());
                var first = lower == Doubles(features[j].GetProperty("grid"))[0];
                var inBin = expected.Where(e => j == 2 ? e.Value == lower : (first ? e.Value >= lower - 1e-6 : e.Value > lower + 1e-6) && e.Value <= upper + 1e-6).ToArray();
                Assert.Equal(inBin.Length, bin.GetProperty("n").GetInt64());
                if (inBin.Length > 0) Assert.Equal(inBin.Average(e => e.Attribution), bin.GetProperty("mean").GetProperty("value").GetDouble(), 1e-5);
            }
        }
        var permutation = dependence.GetProperty("permutation");
        Assert.Equal(3, permutation.GetProperty("repeats").GetInt32());
        Assert.Equal(3, permutation.GetProperty("features").GetArrayLength());

        // The report's section: a partial dependence chart per feature, an ALE chart per numeric one, the importance bars.
        var report = await File.ReadAllTextAsync(Path.Combine(folder, "out-2", "report.html"));
        var at = report.IndexOf("Dependence: partial dependence, ICE, ALE and permutation importance", StringComparison.Ordinal);
        Assert.True(at > 0, "the report has no dependence section");
        var section = report[at..report.IndexOf("<h2", at, StringComparison.Ordinal)];
        Assert.Equal(9, System.Text.RegularExpressions.Regex.Count(section, "<svg xmlns"));
        Assert.Contains("aria-label=\"ALE: b\"", section, StringComparison.Ordinal);
        Assert.Contains("aria-label=\"grad-x-input attribution: c\"", section, StringComparison.Ordinal);
        Assert.Contains("Permutation importance", section, StringComparison.Ordinal);
        // Limitations says what was sampled: here the sample is the whole table, so its quantiles carry no error.
        Assert.Contains(System.Net.WebUtility.HtmlEncode("The dependence views' grids are quantiles of 6 rows drawn at random (their levels within ±0.0 % of the whole table's"),
            report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ThreeShards_SectionEqualsOneShardByteForByte()
    {
        var (folder, single) = await RunAsync(Linear, shardSize: 6);
        Assert.True(single.ExitCode == 0, single.ToString());
        var (_, sharded) = await RunAsync(Linear, shardSize: 2, folder);
        Assert.True(sharded.ExitCode == 0, sharded.ToString());
        string Section(string output)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, output, "summary.json")));
            return doc.RootElement.GetProperty("dependence").GetRawText();
        }
        Assert.Equal(Section("out-6"), Section("out-2"));
        for (var k = 0; k < 3; k++)
            Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "out-6", "summary", $"dependence-points-{k}.npy")),
                File.ReadAllBytes(Path.Combine(folder, "out-2", "summary", $"dependence-points-{k}.npy")));
    }


    [Fact]
    public async Task Run_CreditTopFeatures_AreTheLargestMeanAbsAttributionAndShardingChangesNoBit()
    {
        var folder = TestPaths.NewFolder();
        async Task<JsonDocument> RunCreditAsync(int shardSize)
        {
            var job = Path.Combine(folder, $"credit-{shardSize}.json");
            await File.WriteAllTextAsync(job, $$"""
                { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] },
                  "data": {{TableFiles.CreditData(TableFiles.Credit)}}, "methods": { "grad-x-input": {} }, "target": "label",
                  "shardSize": {{shardSize}}, "batchSize": 64, "output": "credit-{{shardSize}}",
                  "dependence": { "features": 2, "grid": 8, "ice": 3, "sample": 200, "seed": 4, "permutation": { "repeats": 2 } } }
                """);
            var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
            Assert.True(run.ExitCode == 0, run.ToString());
            return JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(folder, $"credit-{shardSize}", "summary.json")));
        }
        using var single = await RunCreditAsync(4480);
        using var sharded = await RunCreditAsync(1536);
        var dependence = single.RootElement.GetProperty("dependence");
        Assert.Equal(dependence.GetRawText(), sharded.RootElement.GetProperty("dependence").GetRawText());
        var ranked = single.RootElement.GetProperty("features").GetProperty("methods")[0].GetProperty("features").EnumerateArray()
            .OrderByDescending(f => f.GetProperty("meanAbs").GetProperty("value").GetDouble()).Select(f => f.GetProperty("feature").GetString()).Take(2);
        Assert.Equal(ranked, dependence.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("feature").GetString()));
        Assert.Equal(13, dependence.GetProperty("permutation").GetProperty("features").GetArrayLength());
        Assert.True(dependence.GetProperty("quantileError").GetDouble() > 0.09); // √(ln 40 / 400) for a sample of 200
        // The manifest records the seeds, so the same sample and draws can be had again.
        using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(folder, "credit-1536", "manifest.json")));
        var seeds = manifest.RootElement.GetProperty("seeds");
        Assert.Equal(4, seeds.GetProperty("dependence.seed").GetInt64());
        Assert.Equal(0, seeds.GetProperty("dependence.permutation.seed").GetInt64());
    }

    [Theory]
    [InlineData("""{ "features": ["zz"] }""", "dependence.features[0]: \"zz\" is not a feature (data.features: a, b, c)")]
    [InlineData("""{ "features": 4 }""", "dependence.features: expected an integer from 1 to 3")]
    [InlineData("""{ "grid": 1 }""", "dependence.grid: expected an integer from 2 to 100")]
    [InlineData("""{ "response": "odds" }""", "dependence.response: expected one of \"probability\", \"logit\"")]
    [InlineData("""{ "permutation": { "repeats": 1 } }""", "dependence.permutation.repeats: expected an integer from 2 to 100")]
    [InlineData("""{ "ice": 60, "sample": 50 }""", "dependence.ice: 60 curves, but the sample has 50 rows; at most the sample's rows")]
    [InlineData("""{ "bins": 5 }""", "dependence.bins: unknown field")]
    [InlineData("""[ "a" ]""", "dependence: expected an object, e.g. {\"features\": 5, \"grid\": 20}")]
    public async Task Run_BadDependenceBlock_FailsInOneLineBeforeAnyShard(string dependence, string problem)
    {
        var (folder, run) = await RunAsync(dependence, shardSize: 2);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal($"error: {problem}", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out-2", "summary.json")));
    }

    private static double[] Doubles(JsonElement e) => [.. e.EnumerateArray().Select(x => x.GetDouble())];

    private static double[][] Rows(JsonElement e) => [.. e.EnumerateArray().Select(Doubles)];
}
