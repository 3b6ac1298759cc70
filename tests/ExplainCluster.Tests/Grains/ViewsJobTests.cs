using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The weights and activations views as a job computes them on the demo model: the same whichever way the job is
/// sharded, the activations taken from the job's own pass, and both in the summary and the report.
/// </summary>
public class ViewsJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_WeightsAndActivations_ShardedEqualsSingle_AndTheReportShowsThem()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25, Job);
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var (va, vb) = (a.RootElement.GetProperty("views"), b.RootElement.GetProperty("views"));

        // Weights: the model's, whichever shard computed them: identical. Conv, batch norm and Linear tensors, 14 in all.
        Assert.Equal(va.GetProperty("weights").ToString(), vb.GetProperty("weights").ToString());
        var parameters = va.GetProperty("weights").GetProperty("parameters").EnumerateArray().ToArray();
        Assert.Equal(14, parameters.Length);
        Assert.Equal("0.weight", parameters[0].GetProperty("name").GetString());
        Assert.Equal([16, 1, 3, 3], parameters[0].GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        Assert.Equal(144, parameters[0].GetProperty("histogram").EnumerateArray().Sum(c => c.GetInt64()));

        // Activations: every top-level child, 120 samples in each, and the same statistics up to the order of the sums.
        var layers = va.GetProperty("activations").GetProperty("layers").EnumerateArray().ToArray();
        Assert.Equal(Enumerable.Range(0, 14).Select(i => i.ToString()), layers.Select(l => l.GetProperty("layer").GetString()));
        var otherLayers = vb.GetProperty("activations").GetProperty("layers").EnumerateArray().ToArray();
        for (var i = 0; i < layers.Length; i++)
        {
            foreach (var field in new[] { "deadFraction", "sparsity" })
                Assert.Equal(layers[i].GetProperty(field).GetDouble(), otherLayers[i].GetProperty(field).GetDouble(), 12);
            var (pa, pb) = (layers[i].GetProperty("pca").EnumerateArray().ToArray(), otherLayers[i].GetProperty("pca").EnumerateArray().ToArray());
            Assert.Equal(120, pa.Sum(p => p.GetProperty("count").GetInt64()));
            for (var c = 0; c < pa.Length; c++)
                foreach (var (x, y) in pa[c].GetProperty("coordinates").EnumerateArray().Zip(pb[c].GetProperty("coordinates").EnumerateArray()))
                    Assert.Equal(x.GetDouble(), y.GetDouble(), 1e-6 * Math.Max(1, Math.Abs(x.GetDouble())));
        }
        // A ReLU's outputs are sparse; the BatchNorm before it is not.
        Assert.True(layers[2].GetProperty("sparsity").GetDouble() > 0.3);
        Assert.Equal(layers[1].GetProperty("sparsity").GetDouble(), layers[2].GetProperty("sparsity").GetDouble(), 12); // ReLU zeroes exactly the BN's non-positives
        var means = await NpyFiles.ReadFloatsAsync(Path.Combine(single, layers[13].GetProperty("classMeans").GetString()!));
        var otherMeans = await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, layers[13].GetProperty("classMeans").GetString()!));
        for (var i = 0; i < means.Length; i++) Assert.Equal(means[i], otherMeans[i], Math.Max(1e-5f, Math.Abs(means[i]) * 1e-5f));

        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Weights</h3>", html);
        Assert.Contains("<h3>Activations: the path of each class through the layers</h3>", html);
        Assert.True(File.Exists(Path.Combine(single, "plots", "activations-pca-13.png")));
        Assert.True(File.Exists(Path.Combine(single, "plots", "weights-filters.png"))); // every filter in one grid on one scale
        Assert.Contains("<img alt=\"" + ExplainCluster.Engine.Report.ReportHtml.E("16 filters of 3×3 weights on one scale (RdBu, symmetric ±"), html);
    }

    private static string Job(string images, string labels, string output, int shardSize) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "saliency": {}, "grad-cam": { "layer": "10" } },
          "views": { "weights": {}, "activations": {} },
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
