using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>attention-rollout as a job method on the small ViT fixture: grid maps, class means, faithfulness, the same whatever the sharding.</summary>
public class AttentionRolloutJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_VitFixture_ShardedAndSingle_GiveTheSameGridMapsAndClassMeans()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 50, (images, labels, output, size) => Job(images, labels, output, size));

        var whole = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "attributions", "attention-rollout", "part-00000.npy"));
        var maps = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(single, "attributions", "attention-rollout", "part-00000.npy")));
        Assert.Equal(new long[] { 120, 4, 4 }, maps.Header.Shape);
        var parts = new List<float>();
        for (var s = 0; s < 3; s++) parts.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", "attention-rollout", $"part-{s:D5}.npy")));
        Assert.Equal(whole.Length, parts.Count);
        for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], parts[i], 1e-6);
        Assert.All(whole, v => Assert.True(v >= 0));

        using var sa = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var sb = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var ma = sa.RootElement.GetProperty("methods").GetProperty("attention-rollout");
        var mb = sb.RootElement.GetProperty("methods").GetProperty("attention-rollout");
        Assert.Equal(ma.GetProperty("perClass").ToString(), mb.GetProperty("perClass").ToString());
        var present = ma.GetProperty("perClass").GetArrayLength();
        Assert.Equal(120, ma.GetProperty("perClass").EnumerateArray().Sum(c => c.GetProperty("count").GetInt64()));
        var meansA = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(single, ma.GetProperty("classMeans").GetString()!)));
        Assert.Equal(new long[] { present, 4, 4 }, meansA.Header.Shape);
        var va = await NpyFiles.ReadFloatsAsync(Path.Combine(single, ma.GetProperty("classMeans").GetString()!));
        var vb = await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, mb.GetProperty("classMeans").GetString()!));
        Assert.Equal(va.Length, vb.Length);
        for (var i = 0; i < va.Length; i++) Assert.Equal(va[i], vb[i], 1e-6);

        // The grid maps are over the pixels: faithfulness scores them, upsampled as Grad-CAM's.
        var faithfulness = sa.RootElement.GetProperty("faithfulness").GetProperty("methods").GetProperty("attention-rollout");
        Assert.InRange(faithfulness.GetProperty("deletionAuc").GetDouble(), 0, 1);
    }

    [Fact]
    public async Task Run_VitFixtureWithSanity_RandomisingTheModelChangesTheRollout()
    {
        var (single, _) = await Jobs.RunSingleAndShardedAsync(one.Grains, 40, 20,
            (images, labels, output, size) => Job(images, labels, output, size, "\"sanity\": { \"samples\": 8 },"));
        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var sanity = summary.RootElement.GetProperty("sanity").GetProperty("methods").GetProperty("attention-rollout");
        var spearman = sanity.GetProperty("spearman").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.NotEmpty(spearman);
        // Every parameter layer re-drawn, the attention no longer follows the trained model's.
        Assert.True(spearman[^1] < 0.9, $"spearman after the cascade {spearman[^1]}");
    }

    private static string Job(string images, string labels, string output, int shardSize, string extra = "") => $$"""
        {
          "model": { "uri": "{{TestPaths.Fixture("vit_fashion.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "attention-rollout": {} },
          "faithfulness": { "steps": 4 },
          {{extra}}
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
