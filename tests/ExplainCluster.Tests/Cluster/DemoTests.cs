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
        var demo = await CliResult.RunAsync(TimeSpan.FromMinutes(5), "demo", "--out", output);
        Assert.True(demo.ExitCode == 0, demo.ToString());
        Assert.Contains("completed: 10000 samples in 10 shards", demo.Stdout);
        Assert.Contains(Path.Combine(output, "report.html"), demo.Stdout);
        Assert.Equal("", demo.Stderr);

        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var methods = summary.RootElement.GetProperty("methods");
        foreach (var method in new[] { "saliency", "smooth-grad", "grad-cam", "integrated-gradients" })
            Assert.Equal(10000, methods.GetProperty(method).GetProperty("samples").GetInt64());
        foreach (var method in new[] { "lime", "kernel-shap" })
            Assert.InRange(methods.GetProperty(method).GetProperty("samples").GetInt64(), 50, 150); // 1%
        Assert.True(summary.RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble() > 0.85);
        var faithfulness = summary.RootElement.GetProperty("faithfulness").GetProperty("methods");
        Assert.Equal(["grad-cam", "integrated-gradients", "random", "saliency", "smooth-grad"], faithfulness.EnumerateObject().Select(p => p.Name).Order());

        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        foreach (var method in new[] { "saliency", "smooth-grad", "grad-cam", "integrated-gradients", "lime", "kernel-shap" })
            Assert.Contains($"<h2>Class-mean {method}</h2>", html);
        Assert.Contains("Faithfulness curves", html);
    }
}
