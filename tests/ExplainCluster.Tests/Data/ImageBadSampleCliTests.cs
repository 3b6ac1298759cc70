using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary><c>"onBadSample": "fail"</c> (the default) through <c>explain run</c>: what the user sees when one image is corrupt.</summary>
public sealed class ImageBadSampleCliTests
{
    [Theory]
    [InlineData("not_an_image.png", "Sneaker/0099.png", "not a readable image (not JPEG, PNG, WebP, BMP or GIF, or a variant SkiaSharp does not read)")]
    [InlineData("truncated.jpg", "Trouser/0099.jpg", "not a readable image (truncated: the file ends before the image does)")]
    public async Task Run_CorruptImage_FailsInOneLineNamingTheFile(string corrupt, string placed, string reason)
    {
        var folder = TestPaths.NewFolder();
        var images = Path.Combine(folder, "images");
        foreach (var file in Directory.GetFiles(TestPaths.Fixture("images/small"), "*.png", SearchOption.AllDirectories))
        {
            var target = Path.Combine(images, Path.GetRelativePath(TestPaths.Fixture("images/small"), file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        File.Copy(TestPaths.Fixture($"images/corrupt/{corrupt}"), Path.Combine(images, placed));
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            {
              "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
              "data": { "images": "images", "labels": "folders", "onBadSample": "fail",
                        "transforms": [{ "grayscale": { } }, { "toTensor": { } }, { "normalize": { "mean": [0.286], "std": [0.353] } }] },
              "methods": { "saliency": {} },
              "shardSize": 6,
              "output": "out"
            }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        var line = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.Equal($"error: {Path.Combine(images, placed)}: {reason}", line);
        Assert.DoesNotContain("Exception", run.Stdout + run.Stderr);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        // Nothing half-written is marked complete: the manifest says failed, with the same line, and there is no summary.
        using var manifest = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(folder, "out", "manifest.json")));
        Assert.Equal("failed", manifest.RootElement.GetProperty("status").GetString());
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
    }
}
