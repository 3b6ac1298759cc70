using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// The credit model with embedding inputs through <c>explain run</c>: its categoricals index-encoded, explained by the
/// coalition methods as players, and refused (one line) by the gradient methods, which have no gradient at a level's index.
/// </summary>
public sealed class EmbeddingCliTests
{
    // Background rows from every part of the table; a subset of about 18 rows explained.
    private const string Methods = """
        { "kernel-shap": { "samples": 200, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } },
          "permutation-shap": { "permutations": 4, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } },
          "lime": { "samples": 300, "training": { "samples": 200 }, "subset": { "fraction": 0.004, "seed": 1 } } }
        """;

    private static async Task<(CliResult Run, string Output)> RunAsync(string folder, string model, string features, string methods)
    {
        var job = Path.Combine(folder, $"job-{model}.json");
        var output = Path.Combine(folder, $"out-{model}");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture($"tabular/{model}.pt")}}", "classes": ["bad", "good"] },
              "data": {{TableFiles.CreditData(TableFiles.Credit, features)}}, "methods": {{methods}}, "target": "label", "shardSize": 1280, "output": "{{output}}" }
            """);
        return (await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job), output);
    }

    [Fact]
    public async Task Run_EmbeddingModel_AttributionsPerFeatureAndKernelShapAsTheOneHotMlp()
    {
        var folder = TestPaths.NewFolder();
        var (run, output) = await RunAsync(folder, "credit_embedding", TableFiles.CreditEmbeddingFeatures, Methods);
        Assert.True(run.ExitCode == 0, run.ToString());
        var names = JsonDocument.Parse(TableFiles.CreditEmbeddingFeatures).RootElement.EnumerateArray().Select(f => f.GetProperty("name").GetString()!).ToArray();
        foreach (var method in new[] { "kernel-shap", "permutation-shap", "lime" })
        {
            var (index, columns) = await TableJobTests.AttributionsAsync(output, method);
            Assert.InRange(index.Length, 5, 40);
            Assert.Equal(names.Order(StringComparer.Ordinal), columns.Keys.Where(k => k is not ("kernel_shap_delta" or "lime_r2" or "lime_intercept")).Order(StringComparer.Ordinal));
            Assert.Contains(columns["Home"], v => v != 0); // a categorical fed to an embedding gets its share
        }

        // The one-hot MLP equal to the embedding model, on the same rows and background: the same φ per feature.
        var (onehotRun, onehot) = await RunAsync(folder, "credit_onehot", TableFiles.CreditFeatures, """
            { "kernel-shap": { "samples": 200, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } } }
            """);
        Assert.True(onehotRun.ExitCode == 0, onehotRun.ToString());
        var (indexA, a) = await TableJobTests.AttributionsAsync(output, "kernel-shap");
        var (indexB, b) = await TableJobTests.AttributionsAsync(onehot, "kernel-shap");
        Assert.Equal(indexA, indexB);
        foreach (var name in names)
            for (var i = 0; i < indexA.Length; i++) Assert.Equal(b[name][i], a[name][i], 1e-6);
    }

    [Theory]
    [InlineData("saliency", "{}")]
    [InlineData("integrated-gradients", """{ "steps": 8 }""")]
    public async Task Run_GradientMethodOnAnIndexEncodedFeature_FailsInOneLineNamingTheFeature(string method, string options)
    {
        var folder = TestPaths.NewFolder();
        var (run, output) = await RunAsync(folder, "credit_embedding", TableFiles.CreditEmbeddingFeatures, $$"""{ "{{method}}": {{options}} }""");
        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Equal($"error: methods.{method}: feature \"Home\" is index-encoded, and a gradient with respect to a level's index does not exist (use kernel-shap, permutation-shap or lime, or encode it oneHot)",
            Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(Directory.Exists(output));
    }
}
