using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Tests.Infrastructure;
using TorchSharp;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// The <c>maps</c> output setting through <c>explain run</c>, on the CAM fixture's CNN ([3, 12, 12] inputs; saliency's maps
/// [3, 12, 12], grad-cam's [12, 12]): what is written against the full float32 maps of the same job, with the summary unchanged.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class MapsCliTests
{
    private const int Samples = 12;

    private static readonly string[] Methods = ["saliency", "grad-cam"];

    /// <summary>12 inputs from the fixture's 4 (each scaled by 1, 1.5 and 2) and labels 0..4 in turn, as .npy files in <paramref name="folder"/>.</summary>
    private static async Task<(string Inputs, string Labels)> DataAsync(string folder)
    {
        var source = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture("cam/inputs.npy"));
        const int size = 3 * 12 * 12;
        var values = new float[Samples * size];
        for (var i = 0; i < Samples; i++)
            for (var k = 0; k < size; k++) values[i * size + k] = source[i % 4 * size + k] * (1 + i / 4 * 0.5f);
        var (inputs, labels) = (Path.Combine(folder, "inputs.npy"), Path.Combine(folder, "labels.npy"));
        await File.WriteAllBytesAsync(inputs, NpyFormat.Encode(values, [Samples, 3, 12, 12]));
        await File.WriteAllBytesAsync(labels, NpyFormat.Encode([.. Enumerable.Range(0, Samples).Select(i => (long)(i % 5))], [Samples]));
        return (inputs, labels);
    }

    /// <summary>Runs the job with <paramref name="maps"/> (JSON, or null for none) into OUT-<paramref name="name"/>; it must complete.</summary>
    private static async Task<string> RunAsync(string folder, string name, string? maps, int shardSize = 4)
    {
        var (inputs, labels) = (Path.Combine(folder, "inputs.npy"), Path.Combine(folder, "labels.npy"));
        if (!File.Exists(inputs)) await DataAsync(folder);
        var output = Path.Combine(folder, "out-" + name);
        var job = Path.Combine(folder, name + ".json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("cam/model.pt")}}" },
              "data": { "inputs": "{{inputs}}", "labels": "{{labels}}" },
              "methods": { "saliency": {}, "grad-cam": { "layer": "2" } },
              "shardSize": {{shardSize}}, "batchSize": 4, "output": "{{output}}"{{(maps is null ? "" : $", \"maps\": {maps}")}} }
            """);
        var (exit, _, error) = await ConsoleCollection.RunCliAsync("run", job);
        Assert.True(exit == 0, error);
        return output;
    }

    /// <summary>A method's stored maps over every shard part, in shard order, as float32 (float16 widened), with the part's shape.</summary>
    private static async Task<(float[] Values, long[] Shape)> MapsAsync(string output, string method)
    {
        var values = new List<float>();
        long[] shape = [];
        foreach (var part in Directory.GetFiles(Path.Combine(output, "attributions", method), "part-*.npy").Order(StringComparer.Ordinal))
        {
            var file = await ArrayFile.OpenAsync(new ExplainCluster.Engine.Storage.LocalBlob(part), allowEmpty: true);
            shape = file.Header.Shape;
            if (file.Header.Count > 0) values.AddRange(await file.ReadFloatsAsync(0, (int)file.Header.Count));
        }
        return ([.. values], shape);
    }

    /// <summary>
    /// The reference by torch: [n, c, H, W] maps (channels summed into one when <paramref name="sum"/>) through
    /// <c>adaptive_avg_pool2d</c> to [h, w], as float32.
    /// </summary>
    private static float[] Pooled(float[] maps, int n, int channels, int height, int width, int h, int w, bool sum)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(maps, [n, channels, height, width]);
        if (sum) x = x.sum(1, keepdim: true);
        return torch.nn.functional.adaptive_avg_pool2d(x, [h, w]).contiguous().data<float>().ToArray();
    }

    [Fact]
    public async Task Run_Float16AtQuarterResolution_IsTheFullMapsPooledAndRounded_SummaryUnchanged()
    {
        var folder = TestPaths.NewFolder();
        var full = await RunAsync(folder, "full", null);
        var small = await RunAsync(folder, "small", """{ "dtype": "float16", "resolution": [6, 4] }""");
        var summed = await RunAsync(folder, "summed", """{ "channels": "sum", "resolution": [4, 4] }""");

        // Statistics come from the full maps whatever is stored.
        Assert.Equal(Jobs.Summary(full), Jobs.Summary(small));
        Assert.Equal(Jobs.Summary(full), Jobs.Summary(summed));
        var (saliency, saliencyShape) = await MapsAsync(full, "saliency");
        var (cam, camShape) = await MapsAsync(full, "grad-cam");
        Assert.Equal([4L, 3, 12, 12], saliencyShape);
        Assert.Equal([4L, 12, 12], camShape);

        // float16 at [6, 4]: each value the half nearest torch's 2 × 3 block mean of the full float32 map.
        var (smallSaliency, smallSaliencyShape) = await MapsAsync(small, "saliency");
        Assert.Equal([4L, 3, 6, 4], smallSaliencyShape);
        var reference = Pooled(saliency, Samples, 3, 12, 12, 6, 4, sum: false);
        Assert.Equal(reference.Length, smallSaliency.Length);
        for (var i = 0; i < reference.Length; i++)
            Assert.True(Math.Abs(smallSaliency[i] - (float)(Half)reference[i]) <= Ulp((Half)reference[i]),
                $"saliency value {i}: stored {smallSaliency[i]}, torch's mean as float16 {(float)(Half)reference[i]}");
        var smallHeader = (await ArrayFile.OpenAsync(new ExplainCluster.Engine.Storage.LocalBlob(Path.Combine(small, "attributions", "saliency", "part-00000.npy")))).Header;
        Assert.Equal(ElementType.Float16, smallHeader.Type);
        var (smallCam, smallCamShape) = await MapsAsync(small, "grad-cam");
        Assert.Equal([4L, 6, 4], smallCamShape);
        var camReference = Pooled(cam, Samples, 1, 12, 12, 6, 4, sum: false);
        for (var i = 0; i < camReference.Length; i++) Assert.True(Math.Abs(smallCam[i] - (float)(Half)camReference[i]) <= Ulp((Half)camReference[i]));

        // Channels summed at [4, 4], float32: torch's pooled channel sum to float32 rounding.
        var (summedSaliency, summedShape) = await MapsAsync(summed, "saliency");
        Assert.Equal([4L, 4, 4], summedShape);
        var summedReference = Pooled(saliency, Samples, 3, 12, 12, 4, 4, sum: true);
        for (var i = 0; i < summedReference.Length; i++)
            Assert.Equal(summedReference[i], summedSaliency[i], 1e-6 * Math.Max(1, Math.Abs(summedReference[i])));
        // grad-cam's [12, 12] maps have no channels to sum: only averaged.
        var (summedCam, summedCamShape) = await MapsAsync(summed, "grad-cam");
        Assert.Equal([4L, 4, 4], summedCamShape);
        var summedCamReference = Pooled(cam, Samples, 1, 12, 12, 4, 4, sum: false);
        for (var i = 0; i < summedCamReference.Length; i++) Assert.Equal(summedCamReference[i], summedCam[i], 1e-6 * Math.Max(1, Math.Abs(summedCamReference[i])));

        // The manifest says what was stored, the report too; the report drew the reduced maps of the highest losses.
        using var manifest = Jobs.ReadJson(Path.Combine(small, "manifest.json"));
        var recorded = manifest.RootElement.GetProperty("maps");
        Assert.Equal("float16", recorded.GetProperty("dtype").GetString());
        Assert.Equal("keep", recorded.GetProperty("channels").GetString());
        Assert.Equal([6, 4], recorded.GetProperty("resolution").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal("all", recorded.GetProperty("store").GetString());
        using var defaults = Jobs.ReadJson(Path.Combine(full, "manifest.json"));
        Assert.Equal(JsonValueKind.Null, defaults.RootElement.GetProperty("maps").GetProperty("resolution").ValueKind);
        var report = await File.ReadAllTextAsync(Path.Combine(small, "report.html"));
        Assert.Contains("float16, every channel, maps at the input&#39;s size area-averaged to 6 &#215; 4, every sample; statistics were computed from the full float32 maps", report);
        Assert.Contains("float32, every channel, full size, every sample", await File.ReadAllTextAsync(Path.Combine(full, "report.html")));
    }

    /// <summary>One ulp of a half at <paramref name="h"/>: the stored value may round the other way where torch's float32 mean and the double mean differ in the last bit.</summary>
    private static float Ulp(Half h) => (float)Half.BitIncrement(Half.Abs(h)) - (float)Half.Abs(h);

    [Fact]
    public async Task Run_StoreSubsetAndNone_WriteOnlyTheSubsetsRowsOrNoMaps_SummaryByteForByte_ShardedEqualsSingle()
    {
        var folder = TestPaths.NewFolder();
        var full = await RunAsync(folder, "full", null);
        const string subsetMaps = """{ "store": "subset", "subset": { "fraction": 0.5, "seed": 3 } }""";
        var subset = await RunAsync(folder, "subset", subsetMaps);
        var subsetSingle = await RunAsync(folder, "subset-single", subsetMaps, shardSize: Samples);
        var none = await RunAsync(folder, "none", """{ "store": "none" }""");

        var chosen = Enumerable.Range(0, Samples).Where(i => new Subset(0.5, 3).Includes(i)).Select(i => (long)i).ToArray();
        Assert.InRange(chosen.Length, 1, Samples - 1);
        foreach (var method in Methods)
        {
            // Only the subset's rows, each the full run's row, with the index files naming them.
            var (all, shape) = await MapsAsync(full, method);
            var size = (int)shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            foreach (var output in new[] { subset, subsetSingle })
            {
                var indices = new List<long>();
                foreach (var index in Directory.GetFiles(Path.Combine(output, "attributions", method), "index-*.npy").Order(StringComparer.Ordinal))
                    indices.AddRange(await NpyFiles.ReadIntegersAsync(index));
                Assert.Equal(chosen, indices);
                var (stored, _) = await MapsAsync(output, method);
                Assert.Equal(chosen.SelectMany(i => all.Skip((int)i * size).Take(size)), stored);
            }
            Assert.False(Directory.Exists(Path.Combine(none, "attributions", method)));
        }
        Assert.False(Directory.Exists(Path.Combine(none, "attributions")));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(full, "summary.json")), await File.ReadAllBytesAsync(Path.Combine(none, "summary.json")));
        Assert.Equal(Jobs.Summary(full), Jobs.Summary(none));
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(full, "summary.json")), await File.ReadAllBytesAsync(Path.Combine(subset, "summary.json")));
        using (var manifest = Jobs.ReadJson(Path.Combine(subset, "manifest.json")))
        {
            Assert.Equal(3, manifest.RootElement.GetProperty("seeds").GetProperty("maps.subset.seed").GetInt64());
            Assert.Equal(0.5, manifest.RootElement.GetProperty("maps").GetProperty("subsetFraction").GetDouble());
        }
        Assert.Contains("none (&quot;store&quot;: &quot;none&quot;)", await File.ReadAllTextAsync(Path.Combine(none, "report.html")));

        // explain report and explain compare read them back: maps of a subset compared where stored, a run without maps compared without.
        var (reportExit, _, reportError) = await ConsoleCollection.RunCliAsync("report", subset);
        Assert.True(reportExit == 0, reportError);
        var (compareExit, compareOut, compareError) = await ConsoleCollection.RunCliAsync("compare", full, subset, "--out", Path.Combine(folder, "cmp"));
        Assert.True(compareExit == 0, compareError);
        using (var comparison = Jobs.ReadJson(Path.Combine(folder, "cmp", "comparison.json")))
        {
            var methods = comparison.RootElement.GetProperty("methods").EnumerateArray().ToArray();
            Assert.Equal(Methods.Order(StringComparer.Ordinal), methods.Select(m => m.GetProperty("method").GetString()));
            Assert.All(methods, m => Assert.Equal(chosen.Length, m.GetProperty("samples").GetInt64()));
        }
        var (noneExit, _, noneError) = await ConsoleCollection.RunCliAsync("compare", full, none, "--out", Path.Combine(folder, "cmp-none"));
        Assert.True(noneExit == 0, noneError + compareOut);
        using (var comparison = Jobs.ReadJson(Path.Combine(folder, "cmp-none", "comparison.json")))
            Assert.Empty(comparison.RootElement.GetProperty("methods").EnumerateArray());
    }

    [Theory]
    [InlineData("""{ "dtype": "float64" }""", "maps.dtype: expected one of \"float32\", \"float16\"")]
    [InlineData("""{ "channels": "mean" }""", "maps.channels: expected one of \"keep\", \"sum\"")]
    [InlineData("""{ "resolution": [6] }""", "maps.resolution: expected [h, w], two positive integers")]
    [InlineData("""{ "resolution": [24, 24] }""", "maps.resolution: [24, 24] is larger than the input's [12, 12]; maps are only averaged down")]
    [InlineData("""{ "resolution": [5, 6] }""", "maps.resolution: [5, 6] does not divide the input's [12, 12]; only integer factors are supported (e.g. [6, 6] if even)")]
    [InlineData("""{ "store": "some" }""", "maps.store: expected one of \"all\", \"subset\", \"none\"")]
    [InlineData("""{ "store": "subset" }""", "maps.subset: \"store\": \"subset\" needs the samples to keep, {\"fraction\": f, \"seed\": s}")]
    [InlineData("""{ "subset": { "fraction": 0.5 } }""", "maps.subset: only with \"store\": \"subset\"")]
    [InlineData("""{ "store": "subset", "subset": { "perClass": 2 } }""", "maps.subset: perClass is not supported for the stored maps; give {\"fraction\": f, \"seed\": s}")]
    [InlineData("""{ "dtype": "float16", "size": 3 }""", "maps.size: unknown field")]
    [InlineData("\"float16\"", "maps: expected an object, e.g. {\"dtype\": \"float16\", \"resolution\": [56, 56]}")]
    public async Task Run_BadMapsSetting_FailsInOneLineNamingTheField(string maps, string message)
    {
        var folder = TestPaths.NewFolder();
        var (inputs, labels) = await DataAsync(folder);
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("cam/model.pt")}}" }, "data": { "inputs": "{{inputs}}", "labels": "{{labels}}" },
              "methods": { "saliency": {} }, "output": "out", "maps": {{maps}} }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal("error: " + message, Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
    }
}
