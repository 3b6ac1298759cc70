using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The sanity check as a job runs it on the demo model: a stratified sample split across shards, the input-as-map
/// control flagged as insensitive to the model, Grad-CAM not, and the same numbers however the job is sharded.
/// </summary>
public class SanityJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_Sanity_FlagsTheInputControl_NotGradCam_AndShardingChangesNothing()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25, (images, labels, output, size) => Job(images, labels, output, size));

        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var sanity = summary.RootElement.GetProperty("sanity");
        Assert.Equal(30, sanity.GetProperty("samples").GetInt64());
        // The demo model's parameterised layers, output first: the Linear head, then each BatchNorm and conv back to the first.
        Assert.Equal(["13", "9", "8", "5", "4", "1", "0"], sanity.GetProperty("layers").EnumerateArray().Select(l => l.GetString()));
        var methods = sanity.GetProperty("methods");
        Assert.True(methods.GetProperty("input").GetProperty("insensitive").GetBoolean());
        Assert.All(methods.GetProperty("input").GetProperty("spearman").EnumerateArray(), v => Assert.Equal(1.0, v.GetDouble(), 1e-9));
        var gradCam = methods.GetProperty("grad-cam");
        Assert.False(gradCam.GetProperty("insensitive").GetBoolean());
        Assert.True(gradCam.GetProperty("spearman").EnumerateArray().Last().GetDouble() < SanitySpec.Threshold);
        // The last step's correlation over the dataset: the stratified sample reweighted to the dataset's strata, with its interval.
        var last = gradCam.GetProperty("last");
        Assert.True(gradCam.GetProperty("reweighted").GetBoolean());
        Assert.Equal(30, last.GetProperty("n").GetInt64());
        Assert.InRange(last.GetProperty("value").GetDouble(), last.GetProperty("low").GetDouble(), last.GetProperty("high").GetDouble());
        Assert.Equal(120, summary.RootElement.GetProperty("strata").GetProperty("counts").EnumerateArray().Sum(c => c.GetInt64()));

        // Sharded: the same sample, and the same means up to the order of the sums and of each batch's arithmetic.
        using var other = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var otherSanity = other.RootElement.GetProperty("sanity");
        Assert.Equal(sanity.GetProperty("exampleIndex").GetInt64(), otherSanity.GetProperty("exampleIndex").GetInt64());
        foreach (var method in new[] { "input", "grad-cam", "saliency" })
            foreach (var metric in new[] { "spearman", "ssim" })
            {
                var (a, b) = (methods.GetProperty(method).GetProperty(metric), otherSanity.GetProperty("methods").GetProperty(method).GetProperty(metric));
                Assert.Equal(a.EnumerateArray().Select(v => Math.Round(v.GetDouble(), 4)), b.EnumerateArray().Select(v => Math.Round(v.GetDouble(), 4)));
            }
        Assert.Equal(gradCam.GetProperty("last").GetProperty("value").GetDouble(),
            otherSanity.GetProperty("methods").GetProperty("grad-cam").GetProperty("last").GetProperty("value").GetDouble(), 4);

        // The cascade of the example sample: [methods, steps + 1, 28, 28], its first step the original model's map.
        var cascade = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(single, sanity.GetProperty("cascade").GetString()!)));
        Assert.Equal(new long[] { 3, 8, 28, 28 }, cascade.Header.Shape);

        // The report: the verdicts in a table, the curves, and the example's maps along the cascade.
        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Sanity check: model randomisation</h3>", html);
        Assert.Matches(@"<tr><td>input</td><td>1\.000 \(1\.000 to 1\.000\)</td><td>30 \(reweighted\)</td><td>1\.000</td><td><b>flagged: insensitive to the model's parameters</b></td></tr>", html);
        Assert.Matches(@"<tr><td>grad-cam</td><td>[-0-9.]+ \([-0-9.]+ to [-0-9.]+\)</td><td>30 \(reweighted\)</td><td>[-0-9.]+</td><td>depends on the model</td></tr>", html);
        Assert.True(File.Exists(Path.Combine(single, "plots", "sanity-spearman.png")));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(single, "plots"), "sanity-cascade-*.png").Length); // one row of 8 maps per method
    }

    private static string Job(string images, string labels, string output, int shardSize) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "input": {}, "grad-cam": { "layer": "10" }, "saliency": {} },
          "sanity": { "samples": 30, "seed": 2 },
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
