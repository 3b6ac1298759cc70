using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>Cohorts through <c>explain run</c>: a table's metadata by hand from its outputs, and bad <c>cohorts</c>/<c>metadata</c> in one line.</summary>
public sealed class CohortCliTests
{
    private const string Transforms = """[{"grayscale": {}}, {"toTensor": {}}]""";

    private static async Task<string> RunTableAsync(string folder, int shardSize)
    {
        var job = Path.Combine(folder, $"job-{shardSize}.json");
        var output = Path.Combine(folder, $"out-{shardSize}");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" },
              "data": {{TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv"))}},
              "methods": { "grad-x-input": {} }, "cohorts": ["region"], "target": "label", "shardSize": {{shardSize}}, "batchSize": 2, "output": "{{output}}" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        return output;
    }

    [Fact]
    public async Task Run_TableWithRegion_CohortsPerFeatureEqualTheOutputsAndShardingChangesNoBit()
    {
        var folder = TestPaths.NewFolder();
        var single = await RunTableAsync(folder, 6);
        var sharded = await RunTableAsync(folder, 2);
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var cohorts = a.RootElement.GetProperty("cohorts");
        Assert.Equal(cohorts.GetRawText(), b.RootElement.GetProperty("cohorts").GetRawText());

        // From the outputs: region from the samples parts, each feature's attribution from the method's parts (in shard order).
        var region = new List<string?>();
        var correct = new List<bool?>();
        var attributions = new Dictionary<string, List<float>> { ["a"] = [], ["b"] = [], ["c"] = [] };
        for (var s = 0; s < 3; s++)
        {
            var part = Path.Combine(sharded, "samples", $"part-{s:D5}.parquet");
            region.AddRange(await ParquetRows.ReadStringsAsync(part, "region"));
            correct.AddRange((await ParquetRows.ReadAsync(part)).Correct);
            foreach (var (feature, values) in attributions)
                values.AddRange(await ParquetRows.ReadFloatsAsync(Path.Combine(sharded, "attributions", "grad-x-input", $"part-{s:D5}.parquet"), feature));
        }
        Assert.Equal(["north", "south", "north", "east", "south, coast", "west"], region);
        var column = Assert.Single(cohorts.GetProperty("columns").EnumerateArray());
        Assert.Equal(["east", "north", "south", "south, coast", "west"], column.GetProperty("cohorts").EnumerateArray().Select(c => c.GetProperty("value").GetString()));
        foreach (var row in column.GetProperty("cohorts").EnumerateArray())
        {
            var members = Enumerable.Range(0, 6).Where(i => region[i] == row.GetProperty("value").GetString()).ToArray();
            Assert.Equal(members.Length, row.GetProperty("n").GetInt64());
            Assert.Equal(members.Count(i => correct[i] == true) / (double)members.Length, row.GetProperty("accuracy").GetProperty("value").GetDouble(), 12);
            foreach (var feature in new[] { "a", "b", "c" })
            {
                var stat = row.GetProperty("attributions").EnumerateArray().Single(x => x.GetProperty("feature").ValueKind == JsonValueKind.String
                    && x.GetProperty("feature").GetString() == feature);
                Assert.Equal(members.Average(i => Math.Abs((double)attributions[feature][i])), stat.GetProperty("meanAbs").GetProperty("value").GetDouble(), 12);
            }
        }
        Assert.Contains("Cohorts by region", await File.ReadAllTextAsync(Path.Combine(single, "report.html")));
    }

    [Theory]
    [InlineData("""["sit"]""", """["site"]""", "cohorts[0]: \"sit\" is not a metadata column (data.metadata: site)")]
    [InlineData("\"site\"", """["site"]""", "cohorts: expected an array of metadata column names, e.g. [\"site\"]")]
    [InlineData("""["site"]""", "null", "cohorts: the job has no metadata columns; name them in data.metadata (a table's or an image manifest's columns)")]
    [InlineData("null", """["device"]""", "data.metadata[0]: {0}/manifest.csv has no column \"device\" (columns: path, label, site)")]
    [InlineData("null", """["label"]""", "data.metadata: \"label\" is a column of the samples table already (index, label, prediction, confidence, loss, correct)")]
    public async Task Run_BadCohortsOrMetadata_FailsInOneLine(string cohorts, string metadata, string message)
    {
        var folder = TestPaths.NewFolder();
        var job = Path.Combine(folder, "job.json");
        var images = TestPaths.Fixture("images");
        await File.WriteAllTextAsync(job, $$"""
            {
              "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
              "data": { "manifest": "{{images}}/manifest.csv", "path": "path", "metadata": {{metadata}}, "transforms": {{Transforms}} },
              "methods": { "saliency": {} },
              "cohorts": {{cohorts}},
              "output": "out"
            }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        var error = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.Equal("error: " + string.Format(System.Globalization.CultureInfo.InvariantCulture, message, images), error);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
    }
}
