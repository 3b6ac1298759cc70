using System.Text.Json;
using ExplainCluster.Engine.Cohorts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// The class-mean maps of each cohort (summary.json's <c>cohortMaps</c>) through <c>explain run</c> on the image manifest
/// with its <c>site</c> column: each (site, target class) map against the mean of the per-sample maps that the run wrote,
/// computed here from its parquet and .npy files; one shard against four; the report's grid.
/// </summary>
public sealed class CohortMapsCliTests
{
    [Fact]
    public void Reduce_ThreeByThreeInBlocksOfTwo_AveragesEachBlockOverItsPixelsAndChannels()
    {
        // Two channels: 1..9 and 10 × that. A cell is the mean over both channels of the block's pixels.
        float[] map = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90];
        var grid = new double[4];
        CohortMapsFeature.Reduce(map, channels: 2, height: 3, width: 3, factor: 2, grid);
        Assert.Equal([3 * 5.5, 4.5 * 5.5, 7.5 * 5.5, 9 * 5.5], grid);
        Assert.Equal(1, CohortMapsFeature.Factor(28, 28));
        Assert.Equal(3, CohortMapsFeature.Factor(66, 40));
    }

    [Theory]
    [InlineData(28, 1)]
    [InlineData(66, 3)]
    public async Task Run_ManifestWithSite_EachCohortsClassMeanMapIsTheMeanOfItsSamplesMaps(int side, int factor)
    {
        var folder = TestPaths.NewFolder();
        var single = await RunAsync(folder, side, 18);
        var sharded = await RunAsync(folder, side, 5);
        // One shard or four (5 images each): the section and its arrays the same, bit for bit (the top losses' shard and row differ, by design).
        Assert.Equal(Section(single), Section(sharded));

        using var summary = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var section = summary.RootElement.GetProperty("cohortMaps");
        var method = Assert.Single(section.GetProperty("methods").EnumerateArray(), m => m.GetProperty("method").GetString() == "saliency");
        var cells = (side + factor - 1) / factor;
        Assert.Equal((cells, cells, factor), (method.GetProperty("height").GetInt32(), method.GetProperty("width").GetInt32(), method.GetProperty("factor").GetInt32()));
        var column = Assert.Single(method.GetProperty("columns").EnumerateArray());
        Assert.Equal("site", column.GetProperty("column").GetString());
        Assert.Equal(["A", "B"], column.GetProperty("values").EnumerateArray().Select(v => v.GetString()));

        // Each sample's site and target (the predicted class: the job explains predictions) and its saliency map, in dataset order.
        var (site, target, samples) = (new List<string?>(), new List<int>(), new List<float[]>());
        for (var s = 0; s < 4; s++)
        {
            var part = Path.Combine(sharded, "samples", $"part-{s:D5}.parquet");
            site.AddRange(await ParquetRows.ReadStringsAsync(part, "site"));
            target.AddRange((await ParquetRows.ReadAsync(part)).Prediction);
            var maps = await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", "saliency", $"part-{s:D5}.npy"));
            samples.AddRange(maps.Chunk(side * side));
        }
        Assert.Equal(18, samples.Count);

        var classes = column.GetProperty("classes").EnumerateArray().Select(c => c.GetInt32()).ToArray();
        Assert.Equal(target.Distinct().Order(), classes);
        var means = await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, column.GetProperty("file").GetString()!));
        var counts = column.GetProperty("counts").EnumerateArray().Select(r => r.EnumerateArray().Select(n => n.GetInt64()).ToArray()).ToArray();
        string[] values = ["A", "B"];
        for (var v = 0; v < 2; v++)
            for (var c = 0; c < classes.Length; c++)
            {
                var members = Enumerable.Range(0, 18).Where(i => site[i] == values[v] && target[i] == classes[c]).ToArray();
                Assert.Equal(members.Length, counts[v][c]);
                var map = means.AsSpan((v * classes.Length + c) * cells * cells, cells * cells).ToArray();
                if (members.Length == 0)
                {
                    Assert.All(map, x => Assert.True(float.IsNaN(x)));
                    continue;
                }
                // Block means written out here: cell (gy, gx) averages pixels [gy·f, min(side, gy·f + f)) × [gx·f, …).
                for (var gy = 0; gy < cells; gy++)
                    for (var gx = 0; gx < cells; gx++)
                    {
                        double total = 0;
                        var pixels = 0;
                        for (var y = gy * factor; y < Math.Min(side, gy * factor + factor); y++)
                            for (var x = gx * factor; x < Math.Min(side, gx * factor + factor); x++, pixels++)
                                total += members.Sum(i => (double)samples[i][y * side + x]);
                        var expected = total / pixels / members.Length;
                        Assert.True(Math.Abs(expected - map[gy * cells + gx]) <= 1e-6 * Math.Max(1, Math.Abs(expected)),
                            $"{values[v]} class {classes[c]} cell ({gy}, {gx}): {map[gy * cells + gx]}, expected {expected}");
                    }
            }

        var report = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("Class-mean maps by cohort", report);
        Assert.Contains("saliency by site", report);
        Assert.True(File.Exists(Path.Combine(single, "plots", "cohort-maps-saliency-0.png")));
    }

    private static async Task<string> RunAsync(string folder, int side, int shardSize)
    {
        var output = Path.Combine(folder, $"out-{shardSize}");
        var job = Path.Combine(folder, $"job-{shardSize}.json");
        var resize = side == 28 ? "" : $$"""{ "resize": [{{side}}, {{side}}] }, """;
        await File.WriteAllTextAsync(job, $$"""
            {
              "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
              "data": { "manifest": "{{TestPaths.Fixture("images")}}/manifest.csv", "path": "path", "label": "label", "metadata": ["site"],
                        "transforms": [{ "grayscale": {} }, {{resize}}{ "toTensor": {} }] },
              "methods": { "saliency": {}, "grad-x-input": {} },
              "shardSize": {{shardSize}},
              "output": "{{output}}"
            }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        return output;
    }

    /// <summary>summary.json's cohortMaps and the hash of each array it names.</summary>
    private static string Section(string output)
    {
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var section = summary.RootElement.GetProperty("cohortMaps");
        var files = section.GetProperty("methods").EnumerateArray().SelectMany(m => m.GetProperty("columns").EnumerateArray())
            .Select(c => c.GetProperty("file").GetString()!)
            .Select(f => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(output, f)))));
        return string.Join('\n', [section.GetRawText(), .. files]);
    }

}
