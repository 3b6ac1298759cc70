using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Faithfulness through the cluster: the same numbers however the job is sharded, in the parquet parts, summary.json and the report.</summary>
public class FaithfulnessJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private static readonly string[] Orderings = ["saliency", "grad-x-input", "grad-cam", "random"];

    private const string Faithfulness = """, "faithfulness": { "steps": 5, "baseline": "zero", "seed": 7 }""";

    [Fact]
    public async Task Run_ShardedAndSingleShard_GiveSameFaithfulness()
    {
        var folder = TestPaths.NewFolder();
        var data = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var single = await RunAsync(folder, data, "single", shardSize: 300);
        var sharded = await RunAsync(folder, data, "sharded", shardSize: 100);

        using var sa = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var sb = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var fa = sa.RootElement.GetProperty("faithfulness");
        var fb = sb.RootElement.GetProperty("faithfulness");
        Assert.Equal(5, fa.GetProperty("steps").GetInt32());
        Assert.Equal(Orderings, fa.GetProperty("methods").EnumerateObject().Select(p => p.Name));
        foreach (var method in Orderings)
        {
            var (ma, mb) = (fa.GetProperty("methods").GetProperty(method), fb.GetProperty("methods").GetProperty(method));
            // Sums of another grouping, and batches of another size, differ in the last bits only.
            foreach (var auc in new[] { "deletionAuc", "insertionAuc" }) Assert.Equal(ma.GetProperty(auc).GetDouble(), mb.GetProperty(auc).GetDouble(), 5);
            foreach (var curve in new[] { "deletionCurve", "insertionCurve" })
            {
                var (ca, cb) = (Doubles(ma.GetProperty(curve)), Doubles(mb.GetProperty(curve)));
                Assert.Equal(6, ca.Length);
                for (var k = 0; k < ca.Length; k++) Assert.Equal(ca[k], cb[k], 5);
            }
            var (pa, pb) = (ma.GetProperty("perClass"), mb.GetProperty("perClass"));
            Assert.Equal(300, pa.EnumerateArray().Sum(c => c.GetProperty("count").GetInt64()));
            Assert.Equal(pa.EnumerateArray().Select(c => (c.GetProperty("class").GetInt32(), c.GetProperty("count").GetInt64())),
                         pb.EnumerateArray().Select(c => (c.GetProperty("class").GetInt32(), c.GetProperty("count").GetInt64())));
            for (var c = 0; c < pa.GetArrayLength(); c++) Assert.Equal(pa[c].GetProperty("deletionAuc").GetDouble(), pb[c].GetProperty("deletionAuc").GetDouble(), 5);
            // Every ordering starts deletion on x and ends it on the baseline image; insertion goes the other way.
            var (deletion, insertion) = (Doubles(ma.GetProperty("deletionCurve")), Doubles(ma.GetProperty("insertionCurve")));
            Assert.Equal(deletion[0], insertion[^1], 6);
            Assert.Equal(deletion[^1], insertion[0], 6);

            // The per-sample columns: the single part equals the three parts, and their mean is the summary's.
            var columns = (await ParquetRows.ReadAsync(Path.Combine(single, "samples", "part-00000.parquet"))).Columns;
            foreach (var kind in new[] { "deletion", "insertion" })
            {
                var column = $"{method.Replace('-', '_')}_{kind}_auc";
                var whole = await ParquetRows.ReadFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), column);
                Assert.Contains(column, columns);
                var parts = new List<float>();
                for (var s = 0; s < 3; s++) parts.AddRange(await ParquetRows.ReadFloatsAsync(Path.Combine(sharded, "samples", $"part-{s:D5}.parquet"), column));
                Assert.Equal(300, whole.Length);
                for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], parts[i], 4);
                Assert.Equal(whole.Average(v => (double)v), ma.GetProperty($"{kind}Auc").GetDouble(), 5);
            }
        }
        // The maps are not random: the methods' curves differ from the random ordering's.
        var random = Doubles(fa.GetProperty("methods").GetProperty("random").GetProperty("deletionCurve"));
        var saliency = Doubles(fa.GetProperty("methods").GetProperty("saliency").GetProperty("deletionCurve"));
        Assert.True(Math.Abs(random[2] - saliency[2]) > 1e-3, $"{random[2]} vs {saliency[2]}");
    }

    [Fact]
    public async Task Report_WithFaithfulness_ShowsTheCurvesOfEveryMethodAndTheAucTable()
    {
        var folder = TestPaths.NewFolder();
        var output = await RunAsync(folder, await TestPaths.FashionMnistNpyAsync(folder, 100), "out", shardSize: 64);
        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        foreach (var plot in new[] { "faithfulness-deletion", "faithfulness-insertion" })
        {
            var png = await File.ReadAllBytesAsync(Path.Combine(output, "plots", plot + ".png"));
            Assert.Contains(Convert.ToBase64String(png), html);
        }
        Assert.Contains("Deletion curves", html);
        foreach (var method in Orderings)
        {
            var m = summary.RootElement.GetProperty("faithfulness").GetProperty("methods").GetProperty(method);
            // The mean AUCs with their intervals and the samples behind them.
            string Mean(string kind) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{m.GetProperty(kind).GetProperty("value").GetDouble():F4} ({m.GetProperty(kind).GetProperty("low").GetDouble():F4} to {m.GetProperty(kind).GetProperty("high").GetDouble():F4})");
            Assert.Equal(m.GetProperty("deletionAuc").GetDouble(), m.GetProperty("deletion").GetProperty("value").GetDouble());
            var row = $"<tr><td>{method}</td><td>100</td><td>{Mean("deletion")}</td><td>{Mean("insertion")}</td></tr>";
            Assert.Contains(row, html);
        }
    }

    [Fact]
    public async Task Run_LimeOnAStratifiedSubset_GetsFaithfulnessAndAReweightedVerdict_ShardedEqualsSingle()
    {
        const string methods = """{ "saliency": {}, "lime": { "samples": 64, "subset": { "perClass": 1, "seed": 3 } } }""";
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 40, (images, labels, output, size) =>
            TestPaths.FashionJob(images, labels, output, size, Faithfulness + """, "verdicts": { "confidence": 0.9 }""")
                .Replace("""{ "saliency": {}, "grad-x-input": {}, "grad-cam": { "layer": "10" } }""", methods, StringComparison.Ordinal));
        // The subset is the same however the job was sharded, so are its statistics (sums of another grouping: to rounding).
        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var other = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var (va, vb) = (summary.RootElement.GetProperty("verdicts").GetProperty("methods"), other.RootElement.GetProperty("verdicts").GetProperty("methods"));
        foreach (var method in new[] { "saliency", "lime" })
        {
            Assert.Equal(va.GetProperty(method).GetProperty("faithfulness").GetString(), vb.GetProperty(method).GetProperty("faithfulness").GetString());
            foreach (var kind in new[] { "deletion", "insertion" })
                foreach (var field in new[] { "count", "mean", "low", "high" })
                    Assert.Equal(va.GetProperty(method).GetProperty(kind).GetProperty(field).GetDouble(), vb.GetProperty(method).GetProperty(kind).GetProperty(field).GetDouble(), 9);
        }

        var lime = summary.RootElement.GetProperty("faithfulness").GetProperty("methods").GetProperty("lime");
        var explained = summary.RootElement.GetProperty("methods").GetProperty("lime").GetProperty("samples").GetInt64();
        Assert.Equal(explained, lime.GetProperty("samples").GetInt64()); // evaluated on exactly the samples it explained
        Assert.Equal(explained, lime.GetProperty("deletion").GetProperty("n").GetInt64());
        Assert.InRange(explained, 2, 40);
        var verdicts = summary.RootElement.GetProperty("verdicts");
        Assert.Equal(0.9, verdicts.GetProperty("confidence").GetDouble());
        Assert.True(verdicts.GetProperty("methods").GetProperty("lime").GetProperty("reweighted").GetBoolean());
        Assert.False(verdicts.GetProperty("methods").GetProperty("saliency").GetProperty("reweighted").GetBoolean());
        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains($"<td>{explained}<span class=\"ci\">subset, reweighted</span></td>", html);
        Assert.Contains("with its 90 % interval", html);
    }

    [Fact]
    public async Task Run_WithoutFaithfulness_HasNoFaithfulnessColumnsOrSection()
    {
        var folder = TestPaths.NewFolder();
        var output = await RunAsync(folder, await TestPaths.FashionMnistNpyAsync(folder, 50), "out", shardSize: 64, extra: "");
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        Assert.Equal(JsonValueKind.Null, summary.RootElement.GetProperty("faithfulness").ValueKind);
        var columns = (await ParquetRows.ReadAsync(Path.Combine(output, "samples", "part-00000.parquet"))).Columns;
        Assert.DoesNotContain(columns, c => c.EndsWith("_auc", StringComparison.Ordinal));
        Assert.DoesNotContain("Faithfulness", await File.ReadAllTextAsync(Path.Combine(output, "report.html")));
    }

    /// <returns>The output folder of a completed job over <paramref name="data"/>.</returns>
    private async Task<string> RunAsync(string folder, (string Images, string Labels) data, string name, int shardSize, string extra = Faithfulness)
    {
        var output = Path.Combine(folder, name);
        var status = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(data.Images, data.Labels, output, shardSize, extra), folder);
        Assert.Equal(JobState.Completed, status.State);
        return output;
    }

    private static double[] Doubles(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetDouble())];
}
