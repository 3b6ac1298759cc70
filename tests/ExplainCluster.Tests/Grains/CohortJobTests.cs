using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Cohorts by an image manifest's metadata through the cluster: against the samples table's own columns, and sharding changing no bit.</summary>
public sealed class CohortJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const string Transforms = """[{"grayscale": {}}, {"toTensor": {}}, {"normalize": {"mean": [0.286], "std": [0.353]}}]""";

    private static string Job(string output, int shardSize) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}", "classes": ["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"] },
          "data": { "manifest": "{{TestPaths.Fixture("images")}}/manifest.csv", "path": "path", "label": "label", "metadata": ["site"], "transforms": {{Transforms}} },
          "methods": { "saliency": {}, "grad-cam": { "layer": "10" } },
          "trust": { "sensitivity": false, "randomLogit": false, "road": false },
          "cohorts": ["site"],
          "target": "label",
          "shardSize": {{shardSize}},
          "batchSize": 6,
          "output": "{{output}}"
        }
        """;

    [Fact]
    public async Task Run_ManifestWithSite_CohortsEqualTheSamplesTableAndShardingChangesNoBit()
    {
        var folder = TestPaths.NewFolder();
        var (single, sharded) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        foreach (var (output, size) in new[] { (single, 18), (sharded, 6) })
        {
            var status = await Jobs.RunAsync(one.Grains, Job(output, size), folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        }
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var cohorts = a.RootElement.GetProperty("cohorts");
        // One shard of 18 or three of 6 (batches of the same rows): the section is the same text, bit for bit.
        Assert.Equal(cohorts.GetRawText(), b.RootElement.GetProperty("cohorts").GetRawText());

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
}
