using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>CAM variants and occlusion as job methods on the demo CNN: maps, class means, the same whatever the sharding.</summary>
public class CamFamilyJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    /// <summary>
    /// A variant on the shared backward with one that reads only the layer; the two CAMs with their own passes (no
    /// shared backward at all), chunked; occlusion beside Grad-CAM.
    /// </summary>
    [Theory]
    [InlineData("grad-cam-plus-plus,eigen-cam", """{ "grad-cam-plus-plus": { "layer": "10" }, "eigen-cam": { "layer": "10" } }""")]
    [InlineData("score-cam,ablation-cam", """{ "score-cam": { "layer": "10", "maxBatch": 100 }, "ablation-cam": { "layer": "10", "maxBatch": 100 } }""")]
    [InlineData("occlusion,grad-cam", """{ "occlusion": { "window": [1, 7, 7], "stride": 7, "maxBatch": 100 }, "grad-cam": { "layer": "10" } }""")]
    public async Task Run_TwoMethods_ShardedAndSingle_GiveTheSameMapsAndClassMeans(string names, string methodsJson)
    {
        var methods = names.Split(',');
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 60, 25,
            (images, labels, output, size) => Job(images, labels, output, size, methodsJson));

        using var sa = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var sb = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        foreach (var method in methods)
        {
            var path = Path.Combine(single, "attributions", method, "part-00000.npy");
            Assert.Equal(method == "occlusion" ? [60, 1, 28, 28] : new long[] { 60, 7, 7 }, (await ArrayFile.OpenAsync(new LocalBlob(path))).Header.Shape);
            var whole = await NpyFiles.ReadFloatsAsync(path);
            var parts = new List<float>();
            for (var s = 0; s < 3; s++) parts.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", method, $"part-{s:D5}.npy")));
            Assert.Equal(whole.Length, parts.Count);
            for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], parts[i], 1e-6);
            Assert.All(whole, v => Assert.True(method == "occlusion" || v >= 0));
            Assert.Contains(whole, v => v > 0);

            var ma = sa.RootElement.GetProperty("methods").GetProperty(method);
            var mb = sb.RootElement.GetProperty("methods").GetProperty(method);
            Assert.Equal(ma.GetProperty("perClass").ToString(), mb.GetProperty("perClass").ToString());
            var va = await NpyFiles.ReadFloatsAsync(Path.Combine(single, ma.GetProperty("classMeans").GetString()!));
            var vb = await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, mb.GetProperty("classMeans").GetString()!));
            Assert.Equal(va.Length, vb.Length);
            for (var i = 0; i < va.Length; i++) Assert.Equal(va[i], vb[i], 1e-6);
        }
    }

    private static string Job(string images, string labels, string output, int shardSize, string methods) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": {{methods}},
          "batchSize": 16,
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
