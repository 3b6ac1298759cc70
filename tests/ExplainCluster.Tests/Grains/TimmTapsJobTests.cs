using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The activations and embedding views at the taps of timm-convention models that export stages(x) and
/// pre_logits(features): by default activations at every stage ("stages.0", …) and the embedding at "pre_logits".
/// On tiny_cnn_timm_staged.pt (tools/make_models.py) both are computed here by hand; on torchvision's MobileNetV2
/// exported by tools/explain_export.py they are computed here with TorchSharp directly (the stages by one call of the
/// model's stages(x), the pre-logits features as forward_features pooled over its positions, the PCA by LAPACK's
/// eigvalsh); in one shard and in four, which agree.
/// </summary>
public class TimmTapsJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const string Views = """{ "activations": {}, "embedding": { "knnSamples": 0 } }""";

    [Fact]
    public async Task Views_AtTheStagesAndPreLogits_EqualTheHandComputation_ShardedEqualsSingle()
    {
        const int count = 40;
        var folder = TestPaths.NewFolder();
        var random = new Random(11);
        var inputs = Enumerable.Range(0, count * 9).Select(_ => (float)Math.Round(random.NextDouble() * 2.5 - 1, 3)).ToArray();
        var labels = Enumerable.Range(0, count).Select(i => (long)(i % 2)).ToArray();
        await WriteData(folder, inputs, [count, 1, 3, 3], labels);
        var (single, sharded) = await RunBoth(folder, "tiny_cnn_timm_staged.pt", count, count / 4);

        // By hand: stage 0 is (relu(x), relu(0.5 − x)) at each position, stage 1 (relu(a + b), relu(a − b − 0.25)) of it,
        // pre_logits stage 1's mean over the 9 positions.
        var stage0 = Enumerable.Range(0, count).Select(i => inputs[(i * 9)..((i + 1) * 9)]
            .Select(x => new[] { Math.Max(x, 0.0), Math.Max(0.5 - x, 0.0) }).ToArray()).ToArray();
        var stage1 = stage0.Select(s => s.Select(p => new[] { Math.Max(p[0] + p[1], 0), Math.Max(p[0] - p[1] - 0.25, 0) }).ToArray()).ToArray();
        var preLogits = stage1.Select(s => new[] { s.Average(p => p[0]), s.Average(p => p[1]) }).ToArray();
        foreach (var output in new[] { single, sharded })
        {
            using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
            var views = summary.RootElement.GetProperty("views");
            var layers = views.GetProperty("activations").GetProperty("layers").EnumerateArray().ToArray();
            Assert.Equal(["stages.0", "stages.1"], layers.Select(l => l.GetProperty("layer").GetString()));
            foreach (var (layer, stage) in layers.Zip([stage0, stage1]))
                await AssertActivations(output, layer, stage.Select(s => ChannelMajor(s)).ToArray(), labels, 1e-6);
            AssertEmbedding(views.GetProperty("embedding"), "pre_logits", preLogits, 1e-6);
        }
        await AssertShardedEqualsSingle(single, sharded);
    }

    [Fact]
    public async Task Views_OnMobileNetV2ThroughExplainExport_EqualTorchSharpDirectly_ShardedEqualsSingle()
    {
        const int count = 8;
        var folder = TestPaths.NewFolder();
        var random = new Random(5);
        var inputs = Enumerable.Range(0, count * 3 * 32 * 32).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var labels = Enumerable.Range(0, count).Select(i => (long)(i % 2)).ToArray();
        await WriteData(folder, inputs, [count, 3, 32, 32], labels);
        var (single, sharded) = await RunBoth(folder, Path.Combine("torchvision", "mobilenet_v2_split.pt"), count, count / 4);

        // Directly: one call of the model's stages(x), each stage's [n, C, H, W] as [n][C][H·W]; the pre-logits features
        // as forward_features averaged over its positions (MobileNetV2's head pools, then its classifier takes them).
        using var scope = NewDisposeScope();
        using var model = jit.load(TestPaths.Fixture(Path.Combine("torchvision", "mobilenet_v2_split.pt")));
        model.eval();
        // Grad mode is the thread's: the scope ends before the first await, or the thread it began on keeps gradients off
        // for whatever runs on it next (the suite's test host ended so in another class's autograd.grad).
        double[][][][] direct;
        double[][] preLogits;
        using (no_grad())
        {
            var x = tensor(inputs, [count, 3, 32, 32]);
            var stages = (Tensor[])model.invoke("stages", x)!;
            Assert.Equal(5, stages.Length);
            direct = stages.Select(PerSample).ToArray();
            var features = model.invoke<Tensor>("forward_features", x).mean([2, 3]).to(float64);
            preLogits = Enumerable.Range(0, count).Select(i => features[i].data<double>().ToArray()).ToArray();
        }
        foreach (var output in new[] { single, sharded })
        {
            using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
            var views = summary.RootElement.GetProperty("views");
            var layers = views.GetProperty("activations").GetProperty("layers").EnumerateArray().ToArray();
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"stages.{i}"), layers.Select(l => l.GetProperty("layer").GetString()));
            foreach (var (layer, stage) in layers.Zip(direct))
                await AssertActivations(output, layer, stage, labels, 1e-4);
            AssertEmbedding(views.GetProperty("embedding"), "pre_logits", preLogits, 1e-4);
        }
        await AssertShardedEqualsSingle(single, sharded);
    }

    [Fact]
    public async Task Views_NamingALayerThatIsNotATap_ListTheTapsAndTheExportThatAddsMore()
    {
        var folder = TestPaths.NewFolder();
        await WriteData(folder, Enumerable.Repeat(0.25f, 4 * 9).ToArray(), [4, 1, 3, 3], null);
        var staged = await Jobs.RunAsync(one.Grains, Job("tiny_cnn_timm_staged.pt", Path.Combine(folder, "a"), 4,
            """{ "activations": { "layers": ["stages.0", "stages.2"] } }""", labels: false), folder);
        Assert.Equal(JobState.Failed, staged.State);
        Assert.Equal("views.activations.layers: \"stages.2\" is not a layer the views can tap; the model offers \"conv\", \"mix\", \"head\", " +
            "\"stages.0\", \"stages.1\", \"forward_features\", \"pre_logits\"; it follows the timm convention", staged.Error);

        var plain = await Jobs.RunAsync(one.Grains, Job("tiny_cnn_timm.pt", Path.Combine(folder, "b"), 4,
            """{ "embedding": { "layer": "pre_logits", "knnSamples": 0 } }""", labels: false), folder);
        Assert.Equal(JobState.Failed, plain.State);
        Assert.Equal("views.embedding.layer: \"pre_logits\" is not a layer the views can tap; the model offers \"conv\", \"head\", \"forward_features\"; " +
            "it follows the timm convention: exporting stages(x) (taps \"stages.0\", \"stages.1\", …) and pre_logits(features) (tap \"pre_logits\") " +
            "would add more (tools/explain_export.py exports them)", plain.Error);
    }

    [Fact]
    public async Task Methods_GradCamAtAStage_SaysOnlyForwardFeaturesSplits()
    {
        var folder = TestPaths.NewFolder();
        await WriteData(folder, Enumerable.Repeat(0.25f, 4 * 9).ToArray(), [4, 1, 3, 3], null);
        var status = await Jobs.RunAsync(one.Grains, Job("tiny_cnn_timm_staged.pt", Path.Combine(folder, "out"), 4, "null", labels: false)
            .Replace("\"saliency\": {}", "\"grad-cam\": { \"layer\": \"stages.0\" }"), folder);
        Assert.Equal(JobState.Failed, status.State);
        Assert.Equal("Grad-CAM layer \"stages.0\": the activations and embedding views can tap it, but a split needs the rest of the forward from " +
            "there, which the timm convention exports only from \"forward_features\": name that", status.Error);
    }

    private static async Task WriteData(string folder, float[] inputs, long[] shape, long[]? labels)
    {
        await File.WriteAllBytesAsync(Path.Combine(folder, "inputs.npy"), NpyFormat.Encode(inputs, shape));
        if (labels is not null) await File.WriteAllBytesAsync(Path.Combine(folder, "labels.npy"), NpyFormat.Encode(labels, [labels.Length]));
    }

    private async Task<(string Single, string Sharded)> RunBoth(string folder, string model, int count, int shardSize)
    {
        string[] outputs = [Path.Combine(folder, "single"), Path.Combine(folder, "sharded")];
        foreach (var (output, size) in outputs.Zip([count, shardSize]))
        {
            var status = await Jobs.RunAsync(one.Grains, Job(model, output, size, Views), folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        }
        return (outputs[0], outputs[1]);
    }

    /// <summary>[n, C, …] as [n][C][positions] doubles.</summary>
    private static double[][][] PerSample(Tensor stage)
    {
        var (n, c) = ((int)stage.shape[0], (int)stage.shape[1]);
        var flat = stage.to(float64).reshape(n, c, -1);
        return [.. Enumerable.Range(0, n).Select(i => Enumerable.Range(0, c).Select(k => flat[i, k].data<double>().ToArray()).ToArray())];
    }

    /// <summary>[positions][C] as [C][positions].</summary>
    private static double[][] ChannelMajor(double[][] positions) =>
        [.. Enumerable.Range(0, positions[0].Length).Select(k => positions.Select(p => p[k]).ToArray())];

    /// <summary>Sparsity (the share of activations ≤ 0) and the per-label means of each channel's mean over its positions.</summary>
    private static async Task AssertActivations(string output, JsonElement layer, double[][][] stage, long[] labels, double tolerance)
    {
        var total = stage.Sum(s => s.Sum(c => c.Length));
        Assert.Equal(stage.Sum(s => s.Sum(c => c.Count(v => v <= 0))) / (double)total, layer.GetProperty("sparsity").GetDouble(), 1e-9);
        var channels = stage[0].Length;
        Assert.Equal(channels, layer.GetProperty("channels").GetInt32());
        var means = await NpyFiles.ReadFloatsAsync(Path.Combine(output, layer.GetProperty("classMeans").GetString()!));
        var scale = Math.Max(1e-3, stage.Max(s => s.Max(c => Math.Abs(c.Average()))));
        foreach (var label in new long[] { 0, 1 })
        {
            var rows = stage.Where((_, i) => labels[i] == label).ToArray();
            for (var k = 0; k < channels; k++)
                Assert.True(Math.Abs(rows.Average(r => r[k].Average()) - means[label * channels + k]) <= tolerance * scale,
                    $"{layer.GetProperty("layer").GetString()} label {label} channel {k}: {means[label * channels + k]} vs {rows.Average(r => r[k].Average())}");
        }
    }

    /// <summary>The embedding's variances are the top eigenvalues of the rows' population covariance (LAPACK's eigvalsh, in doubles).</summary>
    private static void AssertEmbedding(JsonElement embedding, string layer, double[][] rows, double tolerance)
    {
        Assert.Equal(layer, embedding.GetProperty("layer").GetString());
        Assert.StartsWith("the pre-logits features", embedding.GetProperty("features").GetString());
        Assert.Equal(rows.Length, embedding.GetProperty("samples").GetInt64());
        using var scope = NewDisposeScope();
        var x = tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
        var centred = x - x.mean([0]);
        var eigenvalues = linalg.eigvalsh(centred.t().mm(centred) / rows.Length).flip(0).data<double>().ToArray();
        var variance = embedding.GetProperty("variance").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(2, variance.Length);
        for (var i = 0; i < variance.Length; i++)
            Assert.True(Math.Abs(eigenvalues[i] - variance[i]) <= tolerance * eigenvalues[0], $"component {i}: {variance[i]} vs {eigenvalues[i]}");
    }

    /// <summary>
    /// The activations' arrays are byte-identical; the embedding's variances agree to 1e-12 of the largest (its Σ x xᵀ is
    /// summed per batch on the device, and batches follow the shards, so the last bits may differ).
    /// </summary>
    private static async Task AssertShardedEqualsSingle(string single, string sharded)
    {
        var files = Directory.GetFiles(Path.Combine(single, "summary"), "activations-*.npy");
        Assert.NotEmpty(files);
        foreach (var file in files)
            Assert.Equal(await File.ReadAllBytesAsync(file), await File.ReadAllBytesAsync(Path.Combine(sharded, "summary", Path.GetFileName(file))));
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        double[] Variance(JsonDocument d) =>
            [.. d.RootElement.GetProperty("views").GetProperty("embedding").GetProperty("variance").EnumerateArray().Select(v => v.GetDouble())];
        var (va, vb) = (Variance(a), Variance(b));
        Assert.Equal(va.Length, vb.Length);
        for (var i = 0; i < va.Length; i++) Assert.Equal(va[i], vb[i], 1e-12 * va[0]);
    }

    private static string Job(string model, string output, int shardSize, string views, bool labels = true) => $$"""
        {
          "model": { "uri": "{{TestPaths.Fixture(model)}}" },
          "data": { "inputs": "inputs.npy"{{(labels ? ", \"labels\": \"labels.npy\"" : "")}} },
          "target": "{{(labels ? "label" : "predicted")}}",
          "methods": { "saliency": {} },
          "views": {{views}},
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
