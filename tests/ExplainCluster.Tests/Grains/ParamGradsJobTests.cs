using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Engine;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// Param-grads as a job runs it on the demo model: per-layer norms in its part files, the whole norm as a column,
/// both equal to a per-sample loop against the labels; the projection beside; layers in the manifest and the
/// summary; sharded equal to single; the report lists the layers and draws the largest-norm samples.
/// </summary>
public class ParamGradsJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_ParamGrads_NormsEqualTheLoop_ShardedEqualsSingle_AndTheSummaryAndReportSayWhatRan()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25, Job);
        var norms = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "attributions", "param-grads", "part-00000.npy"));
        using var manifest = Jobs.ReadJson(Path.Combine(single, "manifest.json"));
        var layers = manifest.RootElement.GetProperty("paramGradLayers").EnumerateArray().Select(l => l.GetProperty("name").GetString()!).ToArray();
        Assert.Equal(["0", "1", "4", "5", "8", "9", "13"], layers); // the demo model's convs, batch norms and head
        Assert.All(manifest.RootElement.GetProperty("paramGradLayers").EnumerateArray(), l => Assert.True(l.GetProperty("vectorised").GetBoolean()));
        Assert.Equal(120 * layers.Length, norms.Length);

        // The column is the norm of the whole gradient: √Σ over layers of each layer's norm².
        var whole = await ParquetRows.ReadFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), "param_grad_norm");
        for (var i = 0; i < 120; i++)
            Assert.Equal(Math.Sqrt(Enumerable.Range(0, layers.Length).Sum(l => (double)norms[i * layers.Length + l] * norms[i * layers.Length + l])), whole[i], whole[i] * 1e-5);

        // Against the loop, on the first eight samples, with the cross-entropy taken against their labels.
        var (images, labels) = (await NpyFiles.ReadFloatsAsync(Path.Combine(Path.GetDirectoryName(single)!, "images.npy")),
            await NpyFiles.ReadIntegersAsync(Path.Combine(Path.GetDirectoryName(single)!, "labels.npy")));
        using (var scope = NewDisposeScope())
        {
            var x = (tensor(images[..(8 * 784)], [8, 1, 28, 28]) / 255.0f - 0.286f) / 0.353f;
            var described = layers.Select(l => new ParameterLayer(l, 0, true, "")).ToArray();
            var (loop, _) = ParamGradTests.Loop(TestPaths.Sample("model.pt"), x, tensor(labels[..8]), described);
            var expected = loop.sqrt().data<double>().ToArray();
            for (var k = 0; k < expected.Length; k++)
                Assert.True(Math.Abs(expected[k] - norms[k]) <= 1e-4 * Math.Max(expected[k], 1e-3), $"entry {k}: loop {expected[k]}, job {norms[k]}");
        }

        // Sharded: the same rows, up to each batch's arithmetic.
        var shardedNorms = new List<float>();
        for (var s = 0; s < 5; s++) shardedNorms.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", "param-grads", $"part-{s:D5}.npy")));
        Assert.Equal(norms.Length, shardedNorms.Count);
        for (var k = 0; k < norms.Length; k++) Assert.True(Math.Abs(norms[k] - shardedNorms[k]) <= 1e-5 * Math.Max(norms[k], 1e-3), $"entry {k}");

        var projected = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(single, "attributions", "param-grads-projected", "part-00000.npy")));
        Assert.Equal(new long[] { 120, 8 }, projected.Header.Shape);

        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var paramGrads = summary.RootElement.GetProperty("paramGrads");
        Assert.Equal(layers, paramGrads.GetProperty("layers").EnumerateArray().Select(l => l.GetProperty("name").GetString()));
        var (correct, incorrect) = (paramGrads.GetProperty("correct"), paramGrads.GetProperty("incorrect"));
        Assert.Equal(120, correct.GetProperty("count").GetInt64() + incorrect.GetProperty("count").GetInt64());
        Assert.Equal(120, correct.GetProperty("histogram").EnumerateArray().Sum(v => v.GetInt64()) + incorrect.GetProperty("histogram").EnumerateArray().Sum(v => v.GetInt64()));
        // Misclassified samples have the larger gradients (their loss is larger): the signal label-error hunts use.
        Assert.True(incorrect.GetProperty("meanNorm").GetDouble() > correct.GetProperty("meanNorm").GetDouble());
        // The correct group's mean norm and its 95 % normal interval (z = 1.95996), against the rows' norms computed here.
        var rows = await ParquetRows.ReadAsync(Path.Combine(single, "samples", "part-00000.parquet"));
        var right = Enumerable.Range(0, 120).Where(i => rows.Correct[i] == true).Select(i => (double)whole[i]).ToArray();
        var (n, mean) = (right.Length, right.Average());
        var sd = Math.Sqrt(right.Sum(v => (v - mean) * (v - mean)) / (n - 1));
        var half = 1.959963984540054 * sd / Math.Sqrt(n);
        var interval = correct.GetProperty("meanNormInterval");
        Assert.Equal(n, interval.GetProperty("n").GetInt64());
        Assert.Equal(mean, interval.GetProperty("value").GetDouble(), mean * 1e-6);
        Assert.Equal(mean - half, interval.GetProperty("low").GetDouble(), mean * 1e-5);
        Assert.Equal(mean + half, interval.GetProperty("high").GetDouble(), mean * 1e-5);
        var largest = paramGrads.GetProperty("largest").EnumerateArray().ToArray();
        Assert.Equal(ParamGradStatistics.LargestCount, largest.Length);
        var top = whole.Select((v, i) => (v, i)).OrderByDescending(p => p.v).First();
        Assert.Equal(top.i, largest[0].GetProperty("index").GetInt64());

        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Per-sample parameter gradients</h3>", html);
        Assert.Contains($"#{top.i}: label", html);
    }

    private static string Job(string images, string labels, string output, int shardSize) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "saliency": {}, "param-grads": { "projection": { "dims": 8, "seed": 1 } } },
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
