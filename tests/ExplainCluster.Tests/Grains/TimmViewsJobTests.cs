using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The activations and embedding views on a model of the timm convention whose forward does not chain its children
/// (tiny_cnn_timm.pt: forward_features = relu(conv(x)), a 1×1 conv with weights [1, −1] and biases [0, 0.5]; forward_head
/// flattens into a Linear): both are taken at forward_features, the embedding pooled over positions as timm's head pools,
/// and both equal what is computed here by hand from the inputs, in one shard and in four.
/// </summary>
public class TimmViewsJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const int Count = 60;

    [Fact]
    public async Task Views_AtForwardFeatures_EqualTheHandComputation_ShardedEqualsSingle()
    {
        var folder = TestPaths.NewFolder();
        var random = new Random(7);
        var inputs = Enumerable.Range(0, Count * 9).Select(_ => (float)Math.Round(random.NextDouble() * 2.5 - 1, 3)).ToArray();
        var labels = Enumerable.Range(0, Count).Select(i => (long)(i % 2)).ToArray();
        await File.WriteAllBytesAsync(Path.Combine(folder, "inputs.npy"), NpyFormat.Encode(inputs, [Count, 1, 3, 3]));
        await File.WriteAllBytesAsync(Path.Combine(folder, "labels.npy"), NpyFormat.Encode(labels, [Count]));
        string[] outputs = [Path.Combine(folder, "single"), Path.Combine(folder, "sharded")];
        foreach (var (output, size) in outputs.Zip([Count, 15]))
        {
            var status = await Jobs.RunAsync(one.Grains, Job(output, size), folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        }
        // By hand: channel 0 is relu(x), channel 1 relu(0.5 − x), at each of the 9 positions.
        var features = Enumerable.Range(0, Count).Select(i => inputs[(i * 9)..((i + 1) * 9)]
            .Select(x => (A: Math.Max(x, 0.0), B: Math.Max(0.5 - x, 0.0))).ToArray()).ToArray();
        foreach (var output in outputs)
            AssertViews(output, features);
    }

    private static void AssertViews(string output, (double A, double B)[][] features)
    {
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var views = summary.RootElement.GetProperty("views");
        var layer = Assert.Single(views.GetProperty("activations").GetProperty("layers").EnumerateArray());
        Assert.Equal("forward_features", layer.GetProperty("layer").GetString());
        var zeros = features.Sum(f => f.Count(p => p.A == 0) + f.Count(p => p.B == 0));
        Assert.Equal(zeros / (double)(Count * 18), layer.GetProperty("sparsity").GetDouble(), 1e-9);

        // The embedding: [mean relu(x), mean relu(0.5 − x)] per sample; its exact PCA's variances are the population
        // covariance's eigenvalues, (a + c)/2 ± √(((a − c)/2)² + b²).
        var pooled = features.Select(f => (A: f.Average(p => p.A), B: f.Average(p => p.B))).ToArray();
        var (ma, mb) = (pooled.Average(p => p.A), pooled.Average(p => p.B));
        var a = pooled.Average(p => (p.A - ma) * (p.A - ma));
        var c = pooled.Average(p => (p.B - mb) * (p.B - mb));
        var b = pooled.Average(p => (p.A - ma) * (p.B - mb));
        var root = Math.Sqrt((a - c) * (a - c) / 4 + b * b);
        var embedding = views.GetProperty("embedding");
        Assert.Equal("forward_features", embedding.GetProperty("layer").GetString());
        Assert.Equal("the output of forward_features, each channel averaged over its positions (the model exports no pre_logits, or it was named)",
            embedding.GetProperty("features").GetString());
        Assert.Equal(Count, embedding.GetProperty("samples").GetInt64());
        var variance = embedding.GetProperty("variance").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal((a + c) / 2 + root, variance[0], 1e-6);
        Assert.Equal((a + c) / 2 - root, variance[1], 1e-6);
    }

    [Fact]
    public async Task Views_NamingAChildOfAModelThatDoesNotChainThem_NamesTheFieldAndTheConvention()
    {
        var folder = TestPaths.NewFolder();
        // Inputs of 1: the ReLU zeroes channel 1 (0.5 − 1), so chaining conv into head without it gives other logits.
        await File.WriteAllBytesAsync(Path.Combine(folder, "inputs.npy"), NpyFormat.Encode(Enumerable.Repeat(1f, 4 * 9).ToArray(), [4, 1, 3, 3]));
        var status = await Jobs.RunAsync(one.Grains, Job(Path.Combine(folder, "out"), 4, """{ "embedding": { "layer": "conv" } }""", labels: false), folder);
        Assert.Equal(JobState.Failed, status.State);
        Assert.StartsWith("views.embedding.layer: the forward of model", status.Error);
        Assert.Contains("timm convention: name \"forward_features\" as the layer, or leave the layer out", status.Error);
    }

    private static string Job(string output, int shardSize, string views = """{ "activations": {}, "embedding": { "knnSamples": 0 } }""", bool labels = true) => $$"""
        {
          "model": { "uri": "{{TestPaths.Fixture("tiny_cnn_timm.pt")}}" },
          "data": { "inputs": "inputs.npy"{{(labels ? ", \"labels\": \"labels.npy\"" : "")}} },
          "methods": { "saliency": {} },
          "views": {{views}},
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
