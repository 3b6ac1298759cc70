using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data.Images;
using ExplainCluster.Engine.Models;
using SkiaSharp;
using static TorchSharp.torch;

/// <summary>
/// Decoding and transforming images (data.images) against the model's own forward+backward on the same inputs, both on
/// one thread: images/s per core. Files are written once to a temporary folder (28x28 grayscale PNGs of the demo set;
/// RGB JPEGs, quality 90, upscaled from it) and read from the page cache, as a warm shard reads them.
///   explain-bench images [COUNT]   (default 512)
/// </summary>
internal static class ImageDecodeCost
{
    public static async Task RunAsync(string[] args, string sample)
    {
        set_num_threads(1);
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 512;
        var data = await DemoImages.LoadAsync(sample, count);
        var folder = Path.Combine(Path.GetTempPath(), $"explain-bench-images-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            var demo = Path.Combine(sample, "model.pt");
            var resnet = Path.Combine(AppContext.BaseDirectory, "fixtures", "torchvision", "resnet18_scripted.pt");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} images each, 1 thread (decode and transform; the model's intra-op threads set to 1)"));
            Console.WriteLine();
            Console.WriteLine("| images | transforms | decode + transform (images/s) | model | forward+backward, batch 64 (images/s) | decode / model |");
            Console.WriteLine("|---|---|---|---|---|---|");
            Row(Write(folder, "png28", data, count, 28, SKEncodedImageFormat.Png, gray: true), "28x28 grayscale PNG",
                """[{"grayscale": {}}, {"toTensor": {}}, {"normalize": {"mean": [0.286], "std": [0.353]}}]""", demo, "demo CNN [1, 28, 28]");
            Row(Write(folder, "jpg224", data, count, 224, SKEncodedImageFormat.Jpeg, gray: false), "224x224 RGB JPEG",
                """[{"toTensor": {}}, {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]""", resnet, "ResNet-18 at 1/8 width [3, 224, 224]");
            Row(Write(folder, "jpg320", data, count, 320, SKEncodedImageFormat.Jpeg, gray: false), "320x320 RGB JPEG",
                """[{"resize": 256}, {"centerCrop": 224}, {"toTensor": {}}, {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]""",
                resnet, "ResNet-18 at 1/8 width [3, 224, 224]");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static void Row(string[] files, string what, string transforms, string modelPath, string modelName)
    {
        var pipeline = ImagePipeline.Parse(transforms);
        float[] DecodeAll()
        {
            float[] last = [];
            foreach (var file in files)
            {
                var image = pipeline.Apply(ImageDecoder.Decode(File.ReadAllBytes(file), file, 64L << 20));
                last = new float[image.Channels * image.Height * image.Width];
                image.CopyPlanarTo(last);
            }
            return last;
        }
        var shape = DecodeAll().Length; // warm-up (and the file cache)
        var decode = Best(() => DecodeAll());
        var first = pipeline.Apply(ImageDecoder.Decode(File.ReadAllBytes(files[0]), files[0], 64L << 20));
        using var model = ExplainModel.Load(modelPath, CPU, Path.GetFileName(modelPath));
        const int Batch = 64;
        void Passes()
        {
            for (var done = 0; done < files.Length; done += Batch)
            {
                using var scope = NewDisposeScope();
                var n = Math.Min(Batch, files.Length - done);
                var x = model.PrepareInput(randn(n, first.Channels, first.Height, first.Width)).requires_grad_(true);
                var logits = model.Forward(x);
                logits.max(1).values.sum().backward();
            }
        }
        Passes();
        var passes = Best(Passes);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {what} | `{transforms}` | {files.Length / decode:F0} | {modelName} | {files.Length / passes:F0} | {passes / decode:F2} |"));
        _ = shape;
    }

    private static double Best(Action run) => Enumerable.Range(0, 3).Min(_ =>
    {
        var clock = Stopwatch.StartNew();
        run();
        return clock.Elapsed.TotalSeconds;
    });

    /// <summary>The demo images written as files of <paramref name="size"/> (bilinear upscaling; RGB gets a tint per channel).</summary>
    internal static string[] Write(string folder, string name, ExplainCluster.Engine.Jobs.ShardData data, int count, int size, SKEncodedImageFormat format, bool gray)
    {
        var files = new string[count];
        for (var i = 0; i < count; i++)
        {
            var pixels = new byte[28 * 28];
            for (var p = 0; p < pixels.Length; p++) pixels[p] = (byte)data.Raw[i * 784 + p];
            var image = PilResample.Resize(new Pixels(28, 28, 1, pixels), size, size);
            var channels = gray ? 1 : 4;
            var target = new byte[size * size * channels];
            for (var p = 0; p < size * size; p++)
            {
                if (gray) { target[p] = image.Data[p]; continue; }
                target[p * 4] = image.Data[p];
                target[p * 4 + 1] = (byte)(255 - image.Data[p]);
                target[p * 4 + 2] = (byte)(image.Data[p] / 2 + p % size / 2);
                target[p * 4 + 3] = 255;
            }
            var info = new SKImageInfo(size, size, gray ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
            using var picture = SKImage.FromPixelCopy(info, target);
            using var encoded = picture.Encode(format, 90);
            files[i] = Path.Combine(folder, $"{name}-{i:D5}.{(format == SKEncodedImageFormat.Png ? "png" : "jpg")}");
            File.WriteAllBytes(files[i], encoded.ToArray());
        }
        return files;
    }
}
