using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Cohorts by an image manifest's metadata through the cluster: against the samples table's own columns, and sharding changing no bit.</summary>
public sealed class CohortJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const string Transforms = """[{"grayscale": {}}, {"toTensor": {}}, {"normalize": {"mean": [0.286], "std": [0.353]}}]""";

    private static string Job(string output, int shardSize, string extra = "") => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}", "classes": ["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"] },
          "data": { "manifest": "{{TestPaths.Fixture("images")}}/manifest.csv", "path": "path", "label": "label", "metadata": ["site"], "transforms": {{Transforms}} },
          "methods": { "saliency": {}, "grad-cam": { "layer": "10" } },
          "trust": { "sensitivity": false, "randomLogit": false, "road": false },
          "cohorts": ["site"],
          "target": "label",
          "shardSize": {{shardSize}},
          "batchSize": 6,
          "output": "{{output}}"{{extra}}
        }
        """;

    /// <summary>
    /// The job (with <paramref name="extra"/> fields) as one shard of 18 and as three of 6 (batches of the same rows): its cohorts
    /// section must be the same text, bit for bit. Returns the single run's output and its section.
    /// </summary>
    private async Task<(string Single, JsonElement Cohorts)> RunSingleAndShardedAsync(string extra)
    {
        var folder = TestPaths.NewFolder();
        var (single, sharded) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        foreach (var (output, size) in new[] { (single, 18), (sharded, 6) })
        {
            var status = await Jobs.RunAsync(one.Grains, Job(output, size, extra), folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        }
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var cohorts = a.RootElement.GetProperty("cohorts");
        Assert.Equal(cohorts.GetRawText(), b.RootElement.GetProperty("cohorts").GetRawText());
        return (single, cohorts.Clone());
    }

    [Fact]
    public async Task Run_ManifestWithSite_CohortsEqualTheSamplesTableAndShardingChangesNoBit()
    {
        var (single, cohorts) = await RunSingleAndShardedAsync("");

        // Against the samples table: the site column (carried from the manifest), correct, and each method's mean |map|.
        var part = Path.Combine(single, "samples", "part-00000.parquet");
        var site = await ParquetRows.ReadStringsAsync(part, "site");
        var rows = await ParquetRows.ReadAsync(part);
        var manifest = File.ReadAllLines(TestPaths.Fixture("images/manifest.csv")).Skip(1).Select(l => l.Split(',')[2]).ToArray();
        Assert.Equal(manifest, site);
        var column = Assert.Single(cohorts.GetProperty("columns").EnumerateArray());
        Assert.Equal("site", column.GetProperty("column").GetString());
        Assert.Equal(2, column.GetProperty("distinct").GetInt32());
        var z = 1.959963984540054;
        foreach (var (row, value) in column.GetProperty("cohorts").EnumerateArray().Zip(new[] { "A", "B" }))
        {
            Assert.Equal(value, row.GetProperty("value").GetString());
            var members = Enumerable.Range(0, 18).Where(i => site[i] == value).ToArray();
            var rest = Enumerable.Range(0, 18).Except(members).ToArray();
            Assert.Equal(members.Length, row.GetProperty("n").GetInt64());
            double Accuracy(int[] set) => set.Count(i => rows.Correct[i] == true) / (double)set.Length;
            var accuracy = row.GetProperty("accuracy");
            Assert.Equal(Accuracy(members), accuracy.GetProperty("value").GetDouble(), 12);
            Assert.Equal(Accuracy(members) - Accuracy(rest), row.GetProperty("accuracyDifference").GetProperty("value").GetDouble(), 12);
            foreach (var method in new[] { "saliency", "grad_cam" })
            {
                var meanAbs = await ParquetRows.ReadFloatsAsync(part, $"{method}_mean_abs");
                var mine = members.Select(i => (double)meanAbs[i]).ToArray();
                var others = rest.Select(i => (double)meanAbs[i]).ToArray();
                var stat = row.GetProperty("attributions").EnumerateArray().Single(x => x.GetProperty("method").GetString()!.Replace('-', '_') == method);
                var mean = stat.GetProperty("meanAbs");
                Assert.Equal(mine.Length, mean.GetProperty("n").GetInt64());
                Assert.Equal(mine.Average(), mean.GetProperty("value").GetDouble(), 12);
                double Sd(double[] x) => Math.Sqrt(x.Sum(v => (v - x.Average()) * (v - x.Average())) / (x.Length - 1));
                Assert.Equal(mine.Average() - z * Sd(mine) / Math.Sqrt(mine.Length), mean.GetProperty("low").GetDouble(), 10);
                var difference = stat.GetProperty("difference");
                Assert.Equal(mine.Average() - others.Average(), difference.GetProperty("value").GetDouble(), 12);
                // Bonferroni over 2 cohorts × 2 methods: the interval at 1 − 0.05 / 4 (Python's NormalDist().inv_cdf(1 − 0.05 / 8)).
                var half = 2.4977054744123737 * Math.Sqrt(Sd(mine) * Sd(mine) / mine.Length + Sd(others) * Sd(others) / others.Length);
                Assert.Equal(mine.Average() - others.Average() + half, difference.GetProperty("high").GetDouble(), 10);
            }
            // The trust metrics that ran (complexity's two, on every sample), from their float columns.
            var sparseness = await ParquetRows.ReadNullableFloatsAsync(part, "saliency_sparseness");
            var trust = row.GetProperty("trust").EnumerateArray().Single(x => x.GetProperty("method").GetString() == "saliency" && x.GetProperty("metric").GetString() == "sparseness");
            Assert.Equal(members.Average(i => (double)sparseness[i]!.Value), trust.GetProperty("mean").GetProperty("value").GetDouble(), 6);
            Assert.Equal(4, row.GetProperty("trust").GetArrayLength()); // sparseness and complexity of saliency and grad-cam
        }

        // The report's section, for a reader who reads only it.
        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Cohorts by site</h3>", html);
        Assert.Contains("Newcombe", html);
        // The finding reaches the report's summary and evidence.json.
        using var evidence = Jobs.ReadJson(Path.Combine(single, "evidence.json"));
        var finding = Assert.Single(evidence.RootElement.GetProperty("findings").EnumerateArray(), f => f.GetProperty("topic").GetString() == "cohorts");
        Assert.StartsWith("Cohorts by site: ", finding.GetProperty("text").GetString());
    }

    [Fact]
    public async Task Run_ManifestWithSiteAndFaithfulness_CalibrationAndFaithfulnessPerCohortEqualTheSamplesTable_ShardedEqualsSingle()
    {
        var (single, cohorts) = await RunSingleAndShardedAsync(""", "faithfulness": { "steps": 4, "seed": 3 }""");

        var part = Path.Combine(single, "samples", "part-00000.parquet");
        var site = await ParquetRows.ReadStringsAsync(part, "site");
        var rows = await ParquetRows.ReadAsync(part);
        var confidence = await ParquetRows.ReadFloatsAsync(part, "confidence");
        var column = Assert.Single(cohorts.GetProperty("columns").EnumerateArray());
        foreach (var row in column.GetProperty("cohorts").EnumerateArray())
        {
            var members = Enumerable.Range(0, 18).Where(i => site[i] == row.GetProperty("value").GetString() && rows.Correct[i] is not null).ToArray();
            // Calibration by hand: mean confidence, accuracy, and the ECE over the 15 equal bins (upper edges inclusive).
            var calibration = row.GetProperty("calibration");
            Assert.Equal(members.Length, calibration.GetProperty("n").GetInt64());
            var meanConfidence = members.Average(i => (double)confidence[i]);
            var accuracy = members.Count(i => rows.Correct[i] == true) / (double)members.Length;
            Assert.Equal(meanConfidence, calibration.GetProperty("meanConfidence").GetDouble(), 12);
            Assert.Equal(accuracy, calibration.GetProperty("accuracy").GetDouble(), 12);
            Assert.Equal(meanConfidence - accuracy, calibration.GetProperty("gap").GetDouble(), 12);
            var ece = members.GroupBy(i => Math.Clamp((int)Math.Ceiling(confidence[i] * 15.0) - 1, 0, 14))
                .Sum(g => g.Count() / (double)members.Length * Math.Abs(g.Count(i => rows.Correct[i] == true) / (double)g.Count() - g.Average(i => (double)confidence[i])));
            Assert.Equal(ece, calibration.GetProperty("ece").GetDouble(), 12);
            Assert.InRange(ece, 1e-9, 1);

            // Mean faithfulness: each method's deletion and insertion AUC averaged over the cohort, from the samples table's columns.
            var faithfulness = row.GetProperty("trust").EnumerateArray().Where(t => t.GetProperty("metric").GetString() is "deletion_auc" or "insertion_auc").ToArray();
            Assert.Equal(["grad-cam", "grad-cam", "saliency", "saliency"], faithfulness.Select(t => t.GetProperty("method").GetString()).Where(m => m != "random").Order(StringComparer.Ordinal));
            foreach (var t in faithfulness)
            {
                var name = $"{t.GetProperty("method").GetString()!.Replace('-', '_')}_{t.GetProperty("metric").GetString()}";
                var values = await ParquetRows.ReadFloatsAsync(part, name);
                var cohort = Enumerable.Range(0, 18).Where(i => site[i] == row.GetProperty("value").GetString()).Select(i => (double)values[i]).ToArray();
                Assert.Equal(cohort.Average(), t.GetProperty("mean").GetProperty("value").GetDouble(), 1e-6); // the column is float32, the sums are of the double AUCs
            }
        }
        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<th scope=\"col\">ECE</th>", html);
        Assert.Contains("saliency deletion-auc", html);
    }
}
