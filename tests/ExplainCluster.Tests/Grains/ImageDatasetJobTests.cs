using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Jobs on image folders and manifests: the same images give the same outputs whichever way they are listed or sharded.</summary>
public sealed class ImageDatasetJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const string Transforms = """[{"grayscale": {}}, {"toTensor": {}}, {"normalize": {"mean": [0.286], "std": [0.353]}}]""";

    private static string Job(string data, string output, int shardSize = 1024) => $$"""
        {
          "model": { "uri": "{{TestPaths.Sample("model.pt")}}", "classes": ["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"] },
          "data": {{data}},
          "methods": { "saliency": {}, "grad-cam": { "layer": "10" } },
          "target": "label",
          "shardSize": {{shardSize}},
          "batchSize": 8,
          "output": "{{output}}"
        }
        """;

    [Fact]
    public async Task Run_FolderManifestAndNpy_GiveIdenticalOutputs()
    {
        var images = TestPaths.Fixture("images");
        var folder = TestPaths.NewFolder();
        var outputs = new Dictionary<string, string>();
        foreach (var (name, data) in new[]
        {
            ("folder", $$"""{ "images": "{{images}}/small", "labels": "folders", "transforms": {{Transforms}} }"""),
            ("manifest", $$"""{ "manifest": "{{images}}/manifest.csv", "path": "path", "label": "label", "transforms": {{Transforms}} }"""),
            // The same pixels as an array: PNG is lossless, and toTensor + normalize are the preprocess below.
            ("npy", $$"""{ "inputs": "{{images}}/small_raw.npy", "labels": "{{images}}/small_labels.npy", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } }"""),
        })
        {
            outputs[name] = Path.Combine(folder, name);
            var status = await Jobs.RunAsync(one.Grains, Job(data, outputs[name]), folder);
            Assert.True(status.State == JobState.Completed, $"{name}: {status.State}: {status.Error}");
            Assert.Equal(18, status.SamplesTotal);
        }
        // The report says where the samples and their labels came from, and how they were transformed.
        var report = await File.ReadAllTextAsync(Path.Combine(outputs["folder"], "report.html"));
        Assert.Contains("the first folder under the images (as torchvision&#39;s ImageFolder)", report);
        Assert.Contains("torchvision transforms, decoded with SkiaSharp", report);
        Assert.Contains("the manifest&#39;s column &quot;label&quot;", await File.ReadAllTextAsync(Path.Combine(outputs["manifest"], "report.html")));
        // The report draws the samples from the images as from the array: the same figures, none left out.
        Assert.DoesNotContain("made without access to the inputs", report);
        string[] Plots(string output) => [.. Directory.GetFiles(Path.Combine(output, "plots")).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];
        Assert.Contains(Plots(outputs["npy"]), p => p.StartsWith("top-loss-", StringComparison.Ordinal));
        Assert.Equal(Plots(outputs["npy"]), Plots(outputs["folder"]));
        Assert.Equal(Plots(outputs["npy"]), Plots(outputs["manifest"]));
        foreach (var plot in Plots(outputs["npy"]).Where(p => p.StartsWith("top-loss-", StringComparison.Ordinal)))
            Assert.Equal(File.ReadAllBytes(Path.Combine(outputs["npy"], "plots", plot)), File.ReadAllBytes(Path.Combine(outputs["folder"], "plots", plot)));
        var summary = Jobs.Summary(outputs["npy"]);
        Assert.Equal(summary, Jobs.Summary(outputs["folder"]));
        Assert.Equal(summary, Jobs.Summary(outputs["manifest"]));
        foreach (var method in new[] { "saliency", "grad-cam" })
        {
            var part = Path.Combine("attributions", method, "part-00000.npy");
            var expected = await File.ReadAllBytesAsync(Path.Combine(outputs["npy"], part));
            Assert.Equal(expected, await File.ReadAllBytesAsync(Path.Combine(outputs["folder"], part)));
            Assert.Equal(expected, await File.ReadAllBytesAsync(Path.Combine(outputs["manifest"], part)));
        }
    }

    [Fact]
    public async Task Run_ShardedFolder_EqualsSingleShard()
    {
        var images = TestPaths.Fixture("images");
        var folder = TestPaths.NewFolder();
        var data = $$"""{ "images": "{{images}}/large", "labels": "folders", "transforms": [{"grayscale": { } }, {"resize": 30}, {"centerCrop": 28}, {"toTensor": { } }, {"normalize": {"mean": [0.286], "std": [0.353]} }] }""";
        var (single, sharded) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        var a = await Jobs.RunAsync(one.Grains, Job(data, single), folder);
        var b = await Jobs.RunAsync(one.Grains, Job(data, sharded, shardSize: 5), folder);
        Assert.True(a.State == JobState.Completed, a.Error);
        Assert.True(b.State == JobState.Completed, b.Error);
        Assert.Equal((1, 3), (a.ShardsTotal, b.ShardsTotal));
        // Each sample's map is its own: the single part equals the three parts concatenated.
        var whole = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "attributions", "saliency", "part-00000.npy"));
        var parts = new List<float>();
        for (var s = 0; s < 3; s++) parts.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", "saliency", $"part-{s:D5}.npy")));
        Assert.Equal(12 * 28 * 28, whole.Length);
        Assert.Equal(whole, parts);
        using var sa = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var sb = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        Assert.Equal(sa.RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble(),
            sb.RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble());
    }
}
