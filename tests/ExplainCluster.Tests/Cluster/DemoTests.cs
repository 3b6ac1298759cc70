using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Cluster;

/// <summary>The README's first command: `explain demo` on a fresh folder, as a user runs it (about a minute here).</summary>
[Collection(ProcessCollection.Name)]
public class DemoTests
{
    [Fact]
    public async Task Demo_ExplainsTheBundledSample_WithEveryMethod_AndSaysWhereTheReportIs()
    {
        var output = Path.Combine(TestPaths.NewFolder(), "explain-demo");
        var demo = await CliResult.RunAsync(TimeSpan.FromMinutes(10), "demo", "--out", output); // about 3½ minutes alone; a shared machine (load 17–23) took more than 5
        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.Contains("completed: 10000 samples in 10 shards", demo.Stdout);
        Assert.Contains(Path.Combine(output, "report.html"), demo.Stdout);
        Assert.Equal("", demo.Stderr);

        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var methods = summary.RootElement.GetProperty("methods");
        foreach (var method in new[] { "saliency", "smooth-grad", "grad-cam", "integrated-gradients", "param-grads" })
            Assert.Equal(10000, methods.GetProperty(method).GetProperty("samples").GetInt64());
        foreach (var method in new[] { "lime", "kernel-shap" })
            Assert.InRange(methods.GetProperty(method).GetProperty("samples").GetInt64(), 60, 100); // 5 per (class × correct), all of a smaller stratum
        Assert.InRange(methods.GetProperty("occlusion").GetProperty("samples").GetInt64(), 110, 200); // 10 per (class × correct)
        Assert.InRange(methods.GetProperty("grad-cam-plus-plus").GetProperty("samples").GetInt64(), 300, 600); // 30 per (class × correct)
        // The sanity check ran on the gradient methods, and none of them explains the input alone.
        var sanity = summary.RootElement.GetProperty("sanity");
        Assert.Equal(64, sanity.GetProperty("samples").GetInt64());
        Assert.Equal(["grad-cam", "integrated-gradients", "saliency", "smooth-grad"], sanity.GetProperty("methods").EnumerateObject().Select(p => p.Name).Order());
        Assert.All(sanity.GetProperty("methods").EnumerateObject(), m => Assert.False(m.Value.GetProperty("insensitive").GetBoolean(), m.Name));
        Assert.True(summary.RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble() > 0.85);
        var faithfulness = summary.RootElement.GetProperty("faithfulness").GetProperty("methods");
        Assert.Equal(["grad-cam", "grad-cam-plus-plus", "integrated-gradients", "kernel-shap", "lime", "occlusion", "random", "saliency", "smooth-grad"], faithfulness.EnumerateObject().Select(p => p.Name).Order());
        foreach (var method in new[] { "lime", "kernel-shap", "occlusion", "grad-cam-plus-plus" }) // scored on the samples it explained, not the dataset
            Assert.Equal(methods.GetProperty(method).GetProperty("samples").GetInt64(), faithfulness.GetProperty(method).GetProperty("samples").GetInt64());
        Assert.Equal(10000, faithfulness.GetProperty("saliency").GetProperty("samples").GetInt64());
        // The trust metrics of saliency, two CAM variants and occlusion: complexity on every sample each method explained,
        // the others on 3 per (class × correct) of those.
        var trust = summary.RootElement.GetProperty("trust").GetProperty("methods");
        Assert.Equal(["grad-cam", "grad-cam-plus-plus", "occlusion", "saliency"], trust.EnumerateObject().Select(p => p.Name).Order());
        Assert.Equal(10000, trust.GetProperty("saliency").GetProperty("sparseness").GetProperty("mean").GetProperty("n").GetInt64());
        Assert.InRange(trust.GetProperty("grad-cam").GetProperty("road").GetProperty("mean").GetProperty("n").GetInt64(), 30, 60);

        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        foreach (var method in new[] { "saliency", "smooth-grad", "grad-cam", "grad-cam-plus-plus", "integrated-gradients", "occlusion", "lime", "kernel-shap" })
            Assert.Contains($"<h3>Class-mean {method}</h3>", html);
        Assert.Contains("Faithfulness curves", html);
        Assert.Contains("<h3>Trust metrics</h3>", html);
        Assert.Contains("<h3>Sanity check: model randomisation</h3>", html);
        Assert.Contains("<h3>Per-sample parameter gradients</h3>", html);
        // Every view that applies to a CNN: weights, activations, pruning and maximisation (attention needs a transformer).
        var views = summary.RootElement.GetProperty("views");
        Assert.Equal(["activations", "embedding", "maximisation", "pruning", "weights"], views.EnumerateObject().Where(v => v.Value.ValueKind != System.Text.Json.JsonValueKind.Null).Select(v => v.Name).Order());
        Assert.Equal(10, views.GetProperty("maximisation").GetProperty("classes").GetArrayLength());
        Assert.Equal(1024, views.GetProperty("pruning").GetProperty("samples").GetInt64());
        foreach (var heading in new[] { "Weights", "Activations: the path of each class through the layers", "Pruning: how much of the layer the decisions need", "Activation maximisation", "Embedding" })
            Assert.Contains($"<h3>{heading}</h3>", html);
    }

    [Fact]
    public async Task TabularDemo_ExplainsTheCreditTable_AndItsHeldOutCohortIsTheWorse()
    {
        var output = Path.Combine(TestPaths.NewFolder(), "explain-demo-tabular");
        var demo = await CliResult.RunAsync(TimeSpan.FromMinutes(4), "demo", "--tabular", "--out", output);
        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.Contains("completed: 4454 samples in 5 shards", demo.Stdout);
        Assert.Contains(Path.Combine(output, "report.html"), demo.Stdout);
        Assert.Equal("", demo.Stderr);

        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var methods = summary.RootElement.GetProperty("methods");
        foreach (var method in new[] { "saliency", "grad-x-input", "integrated-gradients" })
            Assert.Equal(4454, methods.GetProperty(method).GetProperty("samples").GetInt64());
        foreach (var method in new[] { "kernel-shap", "permutation-shap" })
            Assert.Equal(400, methods.GetProperty(method).GetProperty("samples").GetInt64()); // 100 per (class × correct); each stratum has more
        Assert.Equal(200, methods.GetProperty("lime").GetProperty("samples").GetInt64());

        // The per-sample table carries the audit's columns, none of which the model sees; the Split cohort's accuracy is
        // the held-out accuracy counted from the parquet, and it is the worse one (the model was fitted on "train").
        var (split, correct) = (new List<string?>(), new List<bool?>());
        foreach (var part in Directory.GetFiles(Path.Combine(output, "samples"), "part-*.parquet").Order())
        {
            split.AddRange(await ParquetRows.ReadStringsAsync(part, "Split"));
            correct.AddRange((await ParquetRows.ReadAsync(part)).Correct);
        }
        Assert.Equal(4454, split.Count);
        var heldOut = Enumerable.Range(0, split.Count).Where(i => split[i] == "test").ToArray();
        Assert.Equal(1336, heldOut.Length);
        var cohorts = summary.RootElement.GetProperty("cohorts").GetProperty("columns");
        Assert.Equal(["AgeBand", "Marital", "Split"], cohorts.EnumerateArray().Select(c => c.GetProperty("column").GetString()).Order());
        var test = cohorts.EnumerateArray().Single(c => c.GetProperty("column").GetString() == "Split")
            .GetProperty("cohorts").EnumerateArray().Single(c => c.GetProperty("value").GetString() == "test");
        Assert.Equal(heldOut.Count(i => correct[i] == true) / (double)heldOut.Length, test.GetProperty("accuracy").GetProperty("value").GetDouble(), 12);
        Assert.True(test.GetProperty("accuracyDifference").GetProperty("value").GetDouble() < 0);

        // Dependence views of the five features with the largest mean |saliency| (the job's first method), and an error tree
        // whose leaves hold every row.
        var saliency = summary.RootElement.GetProperty("features").GetProperty("methods").EnumerateArray().First(m => m.GetProperty("method").GetString() == "saliency");
        var top = saliency.GetProperty("features").EnumerateArray().OrderByDescending(f => f.GetProperty("meanAbs").GetProperty("value").GetDouble())
            .Take(5).Select(f => f.GetProperty("feature").GetString()).Order();
        var dependence = summary.RootElement.GetProperty("dependence");
        Assert.Equal(top, dependence.GetProperty("features").EnumerateArray().Select(f => f.GetProperty("feature").GetString()).Order());
        Assert.Equal(12, dependence.GetProperty("permutation").GetProperty("features").GetArrayLength());
        var tree = summary.RootElement.GetProperty("errorTree");
        Assert.Equal(4454, tree.GetProperty("leaves").EnumerateArray().Sum(l => l.GetProperty("n").GetInt64()));
        Assert.Equal(correct.Count(c => c == false), tree.GetProperty("errors").GetInt64());

        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        Assert.Contains("<h3>Feature importance</h3>", html);
        Assert.Contains("<h3>Cohorts by Split</h3>", html);
        // Importance bars for every method, the four highest-loss rows as waterfalls, and no word of pixels or segments.
        Assert.Equal(["grad-x-input", "integrated-gradients", "kernel-shap", "lime", "permutation-shap", "saliency"],
            Directory.GetFiles(Path.Combine(output, "plots"), "importance-*.png").Select(f => Path.GetFileNameWithoutExtension(f)["importance-".Length..]).Order());
        Assert.Contains("<h3>Explained rows</h3>", html);
        var highest = summary.RootElement.GetProperty("errorAnalysis").GetProperty("highestLoss").EnumerateArray().Take(4).Select(e => e.GetProperty("index").GetInt64());
        Assert.All(highest, index => Assert.True(File.Exists(Path.Combine(output, "plots", $"waterfall-{index}.png")), $"waterfall-{index}"));
        Assert.DoesNotContain("pixel", html.Replace("pixelated", ""), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("segment", html, StringComparison.OrdinalIgnoreCase);
    }
}
