using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// A 1000-class model (tests/fixtures/wide_1000.pt, 3×64×64 inputs) on three silos: its shards' partials hold
/// tens of MB of per-class sums, so they reach the job by reference; summary.json stays small and the
/// per-class maps go to .npy files beside it, one row per class that has samples.
/// </summary>
public class WideModelTests(ThreeSiloCluster three) : IClassFixture<ThreeSiloCluster>
{
    private const int Samples = 512;
    private const int Classes = 1000;

    [Fact]
    public async Task Run_ThousandClasses_SmallSummary_ClassMapsOnlyForClassesWithSamples_SameAsOneSilo()
    {
        var folder = TestPaths.NewFolder();
        var labels = await WriteDataAsync(folder);
        var output = Path.Combine(folder, "three");
        var status = await Jobs.RunAsync(three.Grains, Job(output), folder);
        Assert.True(status.State == JobState.Completed, status.Error);
        Assert.True(status.ShardsPerSilo.Count >= 2, "the shards ran on one silo");

        // summary.json holds scalars and per-class tables: a few hundred bytes per class, not maps.
        var summaryBytes = new FileInfo(Path.Combine(output, "summary.json")).Length;
        Assert.True(summaryBytes < 1_000_000, $"summary.json is {summaryBytes} bytes");

        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var present = labels.Distinct().Order().ToArray();
        Assert.True(present.Length is > 300 and < Classes, $"{present.Length} classes have samples"); // some, not all
        var saliency = summary.RootElement.GetProperty("methods").GetProperty("saliency");
        var rows = saliency.GetProperty("perClass").EnumerateArray()
            .Select(c => (Class: c.GetProperty("class").GetInt64(), Count: c.GetProperty("count").GetInt64(), Row: c.GetProperty("row").GetInt32())).ToArray();
        Assert.Equal(present, rows.Select(r => r.Class));
        Assert.Equal(rows.Select(r => (long)labels.Count(l => l == r.Class)), rows.Select(r => r.Count));
        Assert.Equal(Enumerable.Range(0, present.Length), rows.Select(r => r.Row));

        var means = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, saliency.GetProperty("classMeans").GetString()!)));
        Assert.Equal(new long[] { present.Length, 3, 64, 64 }, means.Header.Shape);
        Assert.Equal(new long[] { Classes, Classes }, (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "summary", "confusion.npy")))).Header.Shape);

        // A second path to the same numbers: the mean of the per-sample saliency maps of a class's samples.
        var maps = new List<float[]>();
        foreach (var part in Directory.GetFiles(Path.Combine(output, "attributions", "saliency"), "part-*.npy").Order(StringComparer.Ordinal))
        {
            var file = await ArrayFile.OpenAsync(new LocalBlob(part));
            for (var i = 0; i < file.Header.Count; i++) maps.Add(await file.ReadFloatsAsync(i, 1));
        }
        Assert.Equal(Samples, maps.Count);
        foreach (var (cls, count, row) in rows.OrderByDescending(r => r.Count).ThenBy(r => r.Class).Take(3))
        {
            var expected = new double[maps[0].Length];
            for (var i = 0; i < Samples; i++)
                if (labels[i] == cls)
                    for (var j = 0; j < expected.Length; j++) expected[j] += maps[i][j] / (double)count;
            var actual = await means.ReadFloatsAsync(row, 1);
            for (var j = 0; j < expected.Length; j++) Assert.Equal(expected[j], actual[j], 1e-5 * Math.Max(1e-3, Math.Abs(expected[j])));
        }

        // The report draws the classes with the most samples, not a thousand maps per method.
        var report = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        Assert.True(File.Exists(Path.Combine(output, "plots", "class-mean-saliency.png")));
        Assert.Contains("alt=\"Mean saliency maps of 24 classes, ", report);
        Assert.Contains($"the 24 classes with the most samples, of {present.Length}", report);

        // Sharded over three silos, partials by reference: the same summary as one silo's run.
        var oneOut = Path.Combine(folder, "one");
        Assert.Equal(JobState.Completed, (await Jobs.RunOnFreshSiloAsync(Job(oneOut), folder)).State);
        Assert.Equal(Jobs.Summary(oneOut), Jobs.Summary(output));
    }

    /// <summary>Seeded random images (uint8 [n, 3, 64, 64]) and labels 0..999; returns the labels.</summary>
    private static async Task<long[]> WriteDataAsync(string folder)
    {
        var random = new Random(1000);
        var images = new byte[Samples * 3 * 64 * 64];
        random.NextBytes(images);
        var labels = Enumerable.Range(0, Samples).Select(_ => (long)random.Next(Classes)).ToArray();
        await File.WriteAllBytesAsync(Path.Combine(folder, "images.npy"), NpyFormat.Encode(images, [Samples, 3, 64, 64]));
        await File.WriteAllBytesAsync(Path.Combine(folder, "labels.npy"), NpyFormat.Encode(labels, [Samples]));
        return labels;
    }

    private static string Job(string output) => $$"""
        {
          "name": "wide",
          "model": { "uri": "{{TestPaths.Fixture("wide_1000.pt")}}" },
          "data": { "inputs": "images.npy", "labels": "labels.npy", "preprocess": { "scale": 0.00392156862745098 } },
          "methods": { "saliency": {}, "grad-x-input": {}, "grad-cam": { "layer": "3" } },
          "target": "label",
          "shardSize": 128,
          "output": "{{output}}"
        }
        """;
}
