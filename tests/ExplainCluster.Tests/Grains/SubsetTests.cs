using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// A method with a subset explains the samples its (seed, dataset index) choose, whatever the sharding: rows in
/// its parts only for them, their indices beside, null in its columns for the others.
/// </summary>
public class SubsetTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_LimeOnAFraction_ShardedAndSingle_ExplainTheSameSamples_AndSayWhichOnes()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25, (images, labels, output, size) => Job(images, labels, output, size));

        var chosen = await NpyFiles.ReadIntegersAsync(Path.Combine(single, "attributions", "lime", "index-00000.npy"));
        Assert.InRange(chosen.Length, 12, 40); // a quarter of 120, give or take what a fair coin does
        Assert.Equal(chosen.Order(), chosen); // in parquet order
        var shardedChosen = new List<long>();
        for (var s = 0; s < 5; s++) shardedChosen.AddRange(await NpyFiles.ReadIntegersAsync(Path.Combine(sharded, "attributions", "lime", $"index-{s:D5}.npy")));
        Assert.Equal(chosen, shardedChosen);

        // One map row per chosen sample, the same maps either way.
        var maps = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(single, "attributions", "lime", "part-00000.npy")));
        Assert.Equal(new long[] { chosen.Length, 28, 28 }, maps.Header.Shape);
        var shardedRows = 0L;
        for (var s = 0; s < 5; s++) shardedRows += (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sharded, "attributions", "lime", $"part-{s:D5}.npy")))).Header.Count;
        Assert.Equal(chosen.Length, shardedRows);

        // The parquet: lime's columns hold values for the chosen samples and null for the rest; saliency's everywhere.
        var r2 = await ParquetRows.ReadNullableFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), "lime_r2");
        Assert.Equal(chosen, Enumerable.Range(0, 120).Where(i => r2[i] is not null).Select(i => (long)i));
        Assert.All(await ParquetRows.ReadFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), "saliency_mean_abs"), v => Assert.False(float.IsNaN(v)));

        // The summary says how many samples each method explained; the two runs agree.
        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var methods = summary.RootElement.GetProperty("methods");
        Assert.Equal(chosen.Length, methods.GetProperty("lime").GetProperty("samples").GetInt64());
        Assert.Equal(120, methods.GetProperty("saliency").GetProperty("samples").GetInt64());
        Assert.Equal(Jobs.ReadJson(Path.Combine(sharded, "summary.json")).RootElement.GetProperty("methods").GetProperty("lime").GetProperty("perClass").ToString(),
            methods.GetProperty("lime").GetProperty("perClass").ToString());
    }

    [Fact]
    public async Task Run_LimePerClass_ChoosesTheSmallestKeysOfEachStratum_WhateverTheSharding()
    {
        var (single, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 25,
            (images, labels, output, size) => Job(images, labels, output, size, "{ \"perClass\": 2, \"seed\": 5 }"));

        // The strata as the parquet tells them (target = prediction here, × correct), and in each the two samples
        // with the smallest keys, computed here from the keys' definition: that is the choice, in either run.
        var rows = await ParquetRows.ReadAsync(Path.Combine(single, "samples", "part-00000.parquet"));
        var expected = Enumerable.Range(0, 120)
            .GroupBy(i => (rows.Prediction[i], rows.Correct[i]))
            .SelectMany(g => g.OrderBy(i => ExplainCluster.Engine.Methods.SampleSeeds.For(5, i)).Take(2))
            .Select(i => (long)i).Order().ToArray();
        var strata = Enumerable.Range(0, 120).Select(i => (rows.Prediction[i], rows.Correct[i])).Distinct().Count();
        Assert.True(strata >= 10, $"{strata} strata"); // ten classes, some with errors: errors are represented
        Assert.Equal(expected.Length, Enumerable.Range(0, 120).GroupBy(i => (rows.Prediction[i], rows.Correct[i])).Sum(g => Math.Min(2, g.Count())));

        var chosen = await NpyFiles.ReadIntegersAsync(Path.Combine(single, "attributions", "lime", "index-00000.npy"));
        Assert.Equal(expected, chosen);
        var shardedChosen = new List<long>();
        for (var s = 0; s < 5; s++) shardedChosen.AddRange(await NpyFiles.ReadIntegersAsync(Path.Combine(sharded, "attributions", "lime", $"index-{s:D5}.npy")));
        Assert.Equal(expected, shardedChosen);

        var r2 = await ParquetRows.ReadNullableFloatsAsync(Path.Combine(single, "samples", "part-00000.parquet"), "lime_r2");
        Assert.Equal(expected, Enumerable.Range(0, 120).Where(i => r2[i] is not null).Select(i => (long)i));
        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        Assert.Equal(expected.Length, summary.RootElement.GetProperty("methods").GetProperty("lime").GetProperty("samples").GetInt64());
        Assert.Equal(Jobs.ReadJson(Path.Combine(sharded, "summary.json")).RootElement.GetProperty("methods").GetProperty("lime").GetProperty("perClass").ToString(),
            summary.RootElement.GetProperty("methods").GetProperty("lime").GetProperty("perClass").ToString());
    }

    [Fact]
    public async Task Report_DrawsAHighestLossSample_InAShardWhereTheSubsetChoseNone()
    {
        // One sample in fifty for lime, in shards of ten: most shards' lime parts hold no rows (an empty index file).
        var (_, sharded) = await Jobs.RunSingleAndShardedAsync(one.Grains, 120, 10,
            (images, labels, output, size) => Job(images, labels, output, size, "{ \"fraction\": 0.02, \"seed\": 1 }"));
        var empty = Enumerable.Range(0, 12).Where(s => NpyFiles.ReadIntegersAsync(Path.Combine(sharded, "attributions", "lime", $"index-{s:D5}.npy")).Result.Length == 0).ToArray();
        using var summary = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var highest = summary.RootElement.GetProperty("errorAnalysis").GetProperty("highestLoss").EnumerateArray().Select(e => e.GetProperty("shard").GetInt32()).ToArray();
        Assert.Contains(highest, empty.Contains); // the case: a sample the report draws lies in a shard lime chose none in
        var html = await File.ReadAllTextAsync(Path.Combine(sharded, "report.html"));
        Assert.Contains("<h3>Highest-loss samples</h3>", html);
    }

    private static string Job(string images, string labels, string output, int shardSize, string subset = "{ \"fraction\": 0.25, \"seed\": 3 }") => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
          "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "saliency": {}, "lime": { "samples": 100, "subset": {{subset}} } },
          "segments": { "algorithm": "grid", "rows": 4, "cols": 4 },
          "shardSize": {{shardSize}},
          "output": "{{output}}"
        }
        """;
}
