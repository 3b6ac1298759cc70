using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>The methods with their own passes, through a whole job: seeded per sample, so sharding and batching change nothing.</summary>
public class AttributionSuiteTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const string Methods = """
        "integrated-gradients": { "steps": 8 },
        "smooth-grad": { "samples": 4, "stdev": 0.2, "seed": 7 }
        """;

    [Fact]
    public async Task Run_IntegratedGradientsAndSmoothGrad_ShardedAndBatchedDifferently_GiveSameOutputs()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 60);
        var single = Path.Combine(folder, "single");
        var sharded = Path.Combine(folder, "sharded");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, Job(images, labels, single, shardSize: 60, batchSize: 64), folder)).State);
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, Job(images, labels, sharded, shardSize: 16, batchSize: 5), folder)).State);

        foreach (var method in new[] { "integrated-gradients", "smooth-grad" })
        {
            var whole = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "attributions", method, "part-00000.npy"));
            var parts = new List<float>();
            for (var s = 0; s < 4; s++) parts.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", method, $"part-{s:D5}.npy")));
            Assert.Equal(60 * 784, whole.Length);
            var scale = whole.Max(Math.Abs);
            for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], parts[i], 1e-4 * scale);
        }

        // The columns are snake_case, and the convergence delta is each sample's own.
        var rows = await ParquetRows.ReadAsync(Path.Combine(single, "samples", "part-00000.parquet"));
        Assert.Contains("integrated_gradients_delta", rows.Columns);
        Assert.Contains("integrated_gradients_mean_abs", rows.Columns);
        Assert.Contains("smooth_grad_max", rows.Columns);
        var delta = await ParquetRows.ReadFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), "integrated_gradients_delta");
        var shardedDelta = new List<float>();
        for (var s = 0; s < 4; s++) shardedDelta.AddRange(await ParquetRows.ReadFloatsAsync(Path.Combine(sharded, "samples", $"part-{s:D5}.parquet"), "integrated_gradients_delta"));
        for (var i = 0; i < 60; i++) Assert.Equal(delta[i], shardedDelta[i], 1e-3);
        Assert.Contains(delta, d => d != 0);
    }

    private static string Job(string images, string labels, string output, int shardSize, int batchSize) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { {{Methods}} },
          "shardSize": {{shardSize}},
          "batchSize": {{batchSize}},
          "output": "{{output}}"
        }
        """;
}
