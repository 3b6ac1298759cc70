using System.Text.Json;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data.Images;
using ExplainCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// Decoding (SkiaSharp) and the transforms (a port of PIL's resize, torchvision's crop, pad and grayscale) against the
/// tensors torchvision 0.14 and Pillow 9.4 computed from the same files (tools/make_image_fixtures.py).
/// </summary>
public sealed class ImageTransformTests(ITestOutputHelper output)
{
    /// <summary>PNG is lossless and every transform is integer arithmetic as in PIL, so PNG sources agree to float rounding.</summary>
    private const double PngTolerance = 1e-6;

    /// <summary>JPEG: SkiaSharp's libjpeg-turbo against PIL's; the documented tolerance (README: max |Δ| ≤ 1/255 before normalisation).</summary>
    private const double JpegTolerance = 1.0 / 255 + 1e-6;

    public static TheoryData<string> Pipelines() => [.. Reference().Select(p => p.Name)];

    [Theory]
    [MemberData(nameof(Pipelines))]
    public async Task Pipeline_AgainstTorchvision_WithinTolerance(string name)
    {
        var reference = Reference().Single(p => p.Name == name);
        var pipeline = ImagePipeline.Parse(reference.Transforms);
        var expected = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture($"images/reference/{name}.npy"));
        var shape = reference.Shape;
        var sample = shape[1] * shape[2] * shape[3];
        Assert.Equal(shape[0], reference.Files.Length);
        var mean = pipeline.Preprocess.Mean ?? [0.0];
        var std = pipeline.Preprocess.Std ?? [1.0];
        var worst = new Dictionary<string, double> { ["png"] = 0, ["jpg"] = 0 };
        for (var n = 0; n < reference.Files.Length; n++)
        {
            var file = TestPaths.Fixture($"images/{reference.Folder}/{reference.Files[n]}");
            var image = pipeline.Apply(ImageDecoder.Decode(await File.ReadAllBytesAsync(file), reference.Files[n], 1L << 30));
            Assert.Equal([shape[1], shape[2], shape[3]], new[] { image.Channels, image.Height, image.Width });
            var ours = new float[sample];
            image.CopyPlanarTo(ours);
            var kind = Path.GetExtension(file).TrimStart('.');
            var fileWorst = 0.0;
            for (var i = 0; i < sample; i++)
            {
                var c = i / (shape[2] * shape[3]);
                // Before normalisation: torchvision's tensor with its normalize undone, against ours in [0, 1].
                var theirs = expected[n * sample + i] * std[c % std.Length] + mean[c % mean.Length];
                fileWorst = Math.Max(fileWorst, Math.Abs(ours[i] * pipeline.Preprocess.Scale - theirs));
            }
            if (fileWorst > PngTolerance) output.WriteLine($"{reference.Files[n]}: max |Δ| {fileWorst * 255:F3}/255");
            worst[kind] = Math.Max(worst[kind], fileWorst);
        }
        output.WriteLine($"{name}: max |Δ| png {worst["png"]:G3} ({worst["png"] * 255:F3}/255), jpg {worst["jpg"]:G3} ({worst["jpg"] * 255:F3}/255)");
        Assert.True(worst["png"] <= PngTolerance, $"png max |Δ| {worst["png"]}");
        Assert.True(worst["jpg"] <= JpegTolerance, $"jpg max |Δ| {worst["jpg"]}");
    }

    [Fact]
    public async Task Decode_Bomb_RefusedFromHeaderBeforeDecoding()
    {
        var bytes = await File.ReadAllBytesAsync(TestPaths.Fixture("images/corrupt/bomb.png"));
        Assert.Equal(new ImageShapeHeader(100000, 100000), ImageDecoder.ReadHeader(bytes, "bomb.png"));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ExplainException>(() => ImageDecoder.Decode(bytes, "bomb.png", 64L << 20));
        // Refused before allocation: far less than one row of the declared image was allocated.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 100_000);
        Assert.Equal("bomb.png: declares 100000x100000 pixels (30,000,000,000 bytes decoded as RGB), above Limits:MaxSampleBytes (67,108,864); refused before decoding", e.Message);
    }

    [Theory]
    [InlineData("truncated.jpg", "truncated.jpg: not a readable image (truncated: the file ends before the image does)")]
    [InlineData("not_an_image.png", "not_an_image.png: not a readable image (not JPEG, PNG, WebP, BMP or GIF, or a variant SkiaSharp does not read)")]
    public async Task Decode_CorruptFile_OneLineNamingIt(string file, string message)
    {
        var bytes = await File.ReadAllBytesAsync(TestPaths.Fixture($"images/corrupt/{file}"));
        Assert.Equal(message, Assert.Throws<ExplainException>(() => ImageDecoder.Decode(bytes, file, 64L << 20)).Message);
    }

    [Fact]
    public async Task Decode_Gray16Png_RefusedNamingWhy()
    {
        var bytes = await File.ReadAllBytesAsync(TestPaths.Fixture("images/unsupported/gray16.png"));
        Assert.Equal("gray16.png: 16-bit grayscale PNG is not supported: torchvision's ImageFolder loader clips its values to 0–255 and SkiaSharp reads only their high byte, so the model would not see what it saw in training; convert it to 8-bit",
            Assert.Throws<ExplainException>(() => ImageDecoder.Decode(bytes, "gray16.png", 64L << 20)).Message);
    }

    [Fact]
    public async Task Decode_TruncatedAfterHeader_OneLineNamingIt()
    {
        var whole = await File.ReadAllBytesAsync(TestPaths.Fixture("images/large/Bag/0058.jpg"));
        var bytes = whole[..(whole.Length * 4 / 5)];
        Assert.Equal(new ImageShapeHeader(64, 72), ImageDecoder.ReadHeader(bytes, "cut.jpg"));
        Assert.Equal("cut.jpg: cannot be decoded (truncated: the file ends before the image does)",
            Assert.Throws<ExplainException>(() => ImageDecoder.Decode(bytes, "cut.jpg", 64L << 20)).Message);
    }

    [Theory]
    [InlineData("[{\"resize\": 8}]", "data.transforms: toTensor missing (the model receives tensors, as in torchvision's pipelines)")]
    [InlineData("[{\"toTensor\": {}}, {\"resize\": 8}]", "data.transforms[1].resize: comes after toTensor; put it before, on the PIL image")]
    [InlineData("[{\"resize\": 0}, {\"toTensor\": {}}]", "data.transforms[0].resize: expected an integer from 1 or a list of 1 or 2 of them")]
    [InlineData("[{\"rotate\": 3}, {\"toTensor\": {}}]", "data.transforms[0].rotate: unknown transform (resize, centerCrop, pad, grayscale, toTensor, normalize)")]
    [InlineData("[{\"grayscale\": {}}, {\"toTensor\": {}}, {\"normalize\": {\"mean\": [1, 2, 3], \"std\": [1, 1, 1]}}]",
        "data.transforms[2].normalize.mean: expected a list of 1 number (the images have 1 channel here)")]
    [InlineData("[{\"pad\": {\"padding\": 2, \"mode\": \"wrap\"}}, {\"toTensor\": {}}]", "data.transforms[0].pad.mode: expected one of \"constant\", \"edge\", \"reflect\", \"symmetric\"")]
    public void Parse_BadTransforms_OneLineNamingTheField(string json, string message) =>
        Assert.Equal(message, Assert.Throws<ExplainException>(() => ImagePipeline.Parse(json)).Message);

    private sealed record Described(string Name, string Folder, string Transforms, string[] Files, int[] Shape);

    private static IEnumerable<Described> Reference()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("images/reference/pipelines.json")));
        return [.. doc.RootElement.EnumerateObject().Select(p => new Described(p.Name, p.Value.GetProperty("folder").GetString()!,
            p.Value.GetProperty("transforms").GetRawText(),
            [.. p.Value.GetProperty("files").EnumerateArray().Select(f => f.GetString()!)],
            [.. p.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32())]))];
    }
}
