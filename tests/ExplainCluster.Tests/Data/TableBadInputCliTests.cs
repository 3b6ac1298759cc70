using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>A table's bad cells and columns through <c>explain run</c>: one line naming the row, the column and the value; nothing marked complete.</summary>
public sealed class TableBadInputCliTests
{
    [Theory]
    [InlineData("r3,0,-2,y,1,east", "r3,abc,-2,y,1,east", "0.5", "b", "row 3, column \"a\": \"abc\" is not a number")]
    [InlineData("r4,2.5,1,\"z\",1", "r4,2.5,1,\"w\",1", "0.5", "b", "row 4, column \"c\": \"w\" is not one of its levels (x, y, z)")]
    [InlineData("", "", "\"fail\"", "b", "row 2, column \"b\": the value is missing, and the feature's missing is \"fail\"")]
    [InlineData("", "", "0.5", "bb", "")]
    public async Task Run_BadTable_FailsInOneLineNamingRowColumnAndValue(string line, string replacement, string bMissing, string bName, string problem)
    {
        var folder = TestPaths.NewFolder();
        var csv = Path.Combine(folder, "table.csv");
        var text = await File.ReadAllTextAsync(TestPaths.Fixture("tabular/tabular_linear.csv"));
        await File.WriteAllTextAsync(csv, line.Length == 0 ? text : text.Replace(line, replacement, StringComparison.Ordinal));
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            {
              "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" },
              "data": {{TableFiles.LinearData("table.csv", bMissing, bName)}},
              "methods": { "grad-x-input": {} },
              "shardSize": 2,
              "output": "out"
            }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        var error = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.Equal(problem.Length > 0 ? $"error: {csv}: {problem}"
            : $"error: data.features[1].name: {csv} has no column \"bb\" (columns: id, a, b, c, label, region)", error);
        Assert.DoesNotContain("Exception", run.Stdout + run.Stderr);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        // Nothing half-written is marked complete: no summary, and a manifest (where the job got that far) that says failed.
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
        var manifest = Path.Combine(folder, "out", "manifest.json");
        if (problem.Length > 0 || File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(await File.ReadAllBytesAsync(manifest));
            Assert.Equal("failed", doc.RootElement.GetProperty("status").GetString());
        }
    }

    [Theory]
    [InlineData("""{ "kernel-shap": { "hide": "zero" } }""", "methods.kernel-shap.hide: unknown field")]
    [InlineData("""{ "permutation-shap": { "background": { "samples": 0 } } }""", "methods.permutation-shap.background.samples: expected an integer from 1 to 100000")]
    [InlineData("""{ "lime": { "training": 100 } }""", "methods.lime.training: expected {\"samples\": N, \"seed\": s} (rows of the data chosen at random)")]
    [InlineData("""{ "kernel-shap": { "background": { "kmeans": 50, "samples": 20 } } }""",
        "methods.kernel-shap.background.kmeans: 50 clusters of 20 sampled rows; expected at most methods.kernel-shap.background.samples")]
    [InlineData("""{ "permutation-shap": { "background": { "kmeans": 0 } } }""", "methods.permutation-shap.background.kmeans: expected an integer from 1 to 1000")]
    [InlineData("""{ "kernel-shap": { "background": { "perLabel": 0 } } }""", "methods.kernel-shap.background.perLabel: expected an integer from 1 to 100000")]
    [InlineData("""{ "kernel-shap": { "background": { "perLabel": 2, "kmeans": 2 } } }""", "methods.kernel-shap.background: give either kmeans or perLabel, not both")]
    [InlineData("""{ "permutation-shap": { "background": { "perLabel": 2 } } }""", "methods.permutation-shap.background.perLabel: needs data.label (the rows are chosen per label)", false)]
    public async Task Run_BadPerturbationSettingsOnATable_FailInOneLineBeforeAnyShard(string methods, string problem, bool labelled = true)
    {
        var folder = TestPaths.NewFolder();
        var job = Path.Combine(folder, "job.json");
        var data = TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv"));
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" },
              "data": {{(labelled ? data : data.Replace("\"label\": \"label\", ", "", StringComparison.Ordinal))}},
              "methods": {{methods}}, "output": "out" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Equal($"error: {problem}", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
    }
}
