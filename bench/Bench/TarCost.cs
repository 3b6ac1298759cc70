using System.Diagnostics;
using System.Formats.Tar;
using System.Globalization;
using ExplainCluster.Engine.Data.Images;
using ExplainCluster.Engine.Storage;
using SkiaSharp;

/// <summary>
/// WebDataset tar shards (data.tar) against a folder of the same images: building a tar's member index from its headers
/// (members/s), and reading + decoding every image as one ranged read of the tar or one file each (images/s), on one thread
/// from the page cache. The images are the demo set as 28x28 grayscale PNGs, each KEY.png beside KEY.cls.
///   explain-bench tar [COUNT]   (default 4096)
/// </summary>
internal static class TarCost
{
    public static async Task RunAsync(string[] args, string sample)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4096;
        var data = await DemoImages.LoadAsync(sample, count);
        var folder = Path.Combine(Path.GetTempPath(), $"explain-bench-tar-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            var files = ImageDecodeCost.Write(folder, "png28", data, count, 28, SKEncodedImageFormat.Png, gray: true);
            var tar = Path.Combine(folder, "shard.tar");
            await using (var stream = File.Create(tar))
            await using (var writer = new TarWriter(stream, TarEntryFormat.Ustar))
                foreach (var file in files)
                {
                    await writer.WriteEntryAsync(file, Path.GetFileName(file));
                    await writer.WriteEntryAsync(new UstarTarEntry(TarEntryType.RegularFile, Path.ChangeExtension(Path.GetFileName(file), ".cls"))
                        { DataStream = new MemoryStream("0"u8.ToArray()) });
                }
            var blob = new LocalBlob(tar);
            TarMember[] members = [];
            var index = await BestAsync(async () => members = await TarIndex.ReadAsync(blob, tar, CancellationToken.None));
            var images = members.Where(m => m.Name.EndsWith(".png", StringComparison.Ordinal)).ToArray();
            var fromFiles = await BestAsync(async () =>
            {
                foreach (var file in files) ImageDecoder.Decode(await File.ReadAllBytesAsync(file), file, 64L << 20);
            });
            var fromTar = await BestAsync(async () =>
            {
                foreach (var m in images) ImageDecoder.Decode(await blob.ReadRangeAsync(m.Offset, (int)m.Size), m.Name, 64L << 20);
            });
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{count} 28x28 PNGs, a tar of {new FileInfo(tar).Length / 1e6:F1} MB with {members.Length} members, 1 thread, best of 3"));
            Console.WriteLine();
            Console.WriteLine("| measured | rate |");
            Console.WriteLine("|---|---|");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| tar index from the headers | {members.Length / index:F0} members/s |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| read + decode, one file per image | {files.Length / fromFiles:F0} images/s |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| read + decode, one ranged read of the tar per image | {images.Length / fromTar:F0} images/s |"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<double> BestAsync(Func<Task> run)
    {
        var best = double.MaxValue;
        for (var i = 0; i < 4; i++) // the first round warms the page cache and the JIT; the best of the other three counts
        {
            var clock = Stopwatch.StartNew();
            await run();
            if (i > 0) best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return best;
    }
}
