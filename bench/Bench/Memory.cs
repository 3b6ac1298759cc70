using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;

/// <summary>
/// Peak resident memory of <c>explain run</c> (a process of its own, embedded silo and all) on the benchmark's own
/// job (bench/jobs/memory.json: saliency, grad-x-input, grad-cam; shardSize 1024) over datasets of growing size: the
/// Fashion-MNIST test set tiled to each size.
///   explain-bench memory [SAMPLES ...]   (default: 10000 50000 200000; BENCH_KEEP=1 keeps the datasets
///   and outputs in $TMPDIR/explain-bench-memory)
/// </summary>
internal static class Memory
{
    public static async Task RunAsync(string[] sizes, string sample)
    {
        var explain = FindExplain();
        var counts = sizes.Length > 0 ? sizes.Select(long.Parse).ToArray() : [10_000L, 50_000, 200_000];
        Console.WriteLine($"`explain run` ({explain}) on bench/jobs/memory.json (saliency, grad-x-input, grad-cam), shardSize 1024, default silo settings");
        Console.WriteLine();
        Console.WriteLine("| samples | input file (MB) | outputs written (MB) | peak resident memory (MB) | seconds | samples/s |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var count in counts)
        {
            var folder = Path.Combine(Path.GetTempPath(), "explain-bench-memory", count.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(folder);
            await TileAsync(sample, count, folder);
            var job = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "jobs", "memory.json"))
                .Replace("\"t10k-images-idx3-ubyte\"", "\"images.npy\"", StringComparison.Ordinal)
                .Replace("\"t10k-labels-idx1-ubyte\"", "\"labels.npy\"", StringComparison.Ordinal)
                .Replace("\"model.pt\"", $"\"{Path.Combine(sample, "model.pt")}\"", StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(folder, "job.json"), job);
            var output = Path.Combine(folder, "out");
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);

            var (peak, seconds) = await MeasureAsync(explain, "run", Path.Combine(folder, "job.json"), "--out", output);
            var written = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {count} | {count * 784 / 1e6:F0} | {written / 1e6:F0} | {peak / 1e6:F0} | {seconds:F1} | {count / seconds:F0} |"));
            if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>The Fashion-MNIST test set tiled to <paramref name="count"/> samples: FOLDER/images.npy (uint8) and labels.npy.</summary>
    public static async Task TileAsync(string sample, long count, string folder)
    {
        var images = await (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")))).ReadBytesAsync(0, 10_000);
        var labels = await (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")))).ReadIntegersAsync(0, 10_000);
        var tiled = new byte[count * 784];
        var tiledLabels = new long[count];
        for (long i = 0; i < count; i++)
        {
            Array.Copy(images, i % 10_000 * 784, tiled, i * 784, 784);
            tiledLabels[i] = labels[i % 10_000];
        }
        await File.WriteAllBytesAsync(Path.Combine(folder, "images.npy"), NpyFormat.Encode(tiled, [count, 28, 28]));
        await File.WriteAllBytesAsync(Path.Combine(folder, "labels.npy"), NpyFormat.Encode(tiledLabels, [count]));
    }

    /// <summary>
    /// Summary size and peak resident memory of <c>explain run</c> on models of growing width: tests/fixtures/
    /// wide_{C}.pt (3×64×64 inputs, C classes), 2048 seeded random images with uniform labels, saliency,
    /// grad-x-input and grad-cam, target = label, shardSize 256.
    ///   explain-bench wide [CLASSES ...]   (default: 10 100 1000; BENCH_EXPLAIN=path/explain.dll runs another build)
    /// </summary>
    public static async Task WideAsync(string[] widths)
    {
        var explain = Environment.GetEnvironmentVariable("BENCH_EXPLAIN") ?? FindExplain();
        var fixtures = Path.Combine(RepositoryRoot(), "tests", "fixtures");
        const int Samples = 2048;
        Console.WriteLine($"`explain run` ({explain}), {Samples} random 3×64×64 images, saliency + grad-x-input + grad-cam, target label, shardSize 256");
        Console.WriteLine();
        Console.WriteLine("| classes | classes with samples | summary.json (MB) | summary/*.npy (MB) | peak resident memory (MB) | seconds |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var classes in (widths.Length > 0 ? widths : ["10", "100", "1000"]).Select(int.Parse))
        {
            var folder = Path.Combine(Path.GetTempPath(), "explain-bench-wide", classes.ToString(CultureInfo.InvariantCulture));
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);
            var random = new Random(classes);
            var images = new byte[Samples * 3 * 64 * 64];
            random.NextBytes(images);
            var labels = Enumerable.Range(0, Samples).Select(_ => (long)random.Next(classes)).ToArray();
            await File.WriteAllBytesAsync(Path.Combine(folder, "images.npy"), NpyFormat.Encode(images, [Samples, 3, 64, 64]));
            await File.WriteAllBytesAsync(Path.Combine(folder, "labels.npy"), NpyFormat.Encode(labels, [Samples]));
            var model = Path.GetFullPath(Path.Combine(fixtures, $"wide_{classes}.pt"));
            await File.WriteAllTextAsync(Path.Combine(folder, "job.json"), $$"""
                {
                  "name": "wide-{{classes}}",
                  "model": { "uri": "{{model}}" },
                  "data": { "inputs": "images.npy", "labels": "labels.npy", "preprocess": { "scale": 0.00392156862745098 } },
                  "methods": { "saliency": {}, "grad-x-input": {}, "grad-cam": { "layer": "3" } },
                  "target": "label",
                  "shardSize": 256,
                  "output": "out"
                }
                """);
            var output = Path.Combine(folder, "out");
            var (peak, seconds) = await MeasureAsync(explain, "run", Path.Combine(folder, "job.json"), "--out", output);
            var summary = new FileInfo(Path.Combine(output, "summary.json")).Length;
            var arrays = Directory.Exists(Path.Combine(output, "summary"))
                ? Directory.EnumerateFiles(Path.Combine(output, "summary")).Sum(f => new FileInfo(f).Length) : 0;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {classes} | {labels.Distinct().Count()} | {summary / 1e6:F2} | {arrays / 1e6:F1} | {peak / 1e6:F0} | {seconds:F1} |"));
            if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs the CLI with <paramref name="args"/> and samples its VmHWM (the kernel's peak resident set) until it exits.</summary>
    public static async Task<(long PeakBytes, double Seconds)> MeasureAsync(string explain, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [explain, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("cannot start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        long peak = 0;
        while (!process.HasExited)
        {
            peak = Math.Max(peak, PeakResident(process.Id));
            await Task.Delay(50);
        }
        var seconds = watch.Elapsed.TotalSeconds;
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"explain {args[0]} failed ({process.ExitCode}): {await stderr}{await stdout}");
        return (peak, seconds);
    }

    private static long PeakResident(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0; // exited between the check and the read
        }
    }

    public static string FindExplain()
    {
        var candidate = Path.Combine(RepositoryRoot(), "src", "Client", "bin", "Release", "net10.0", "explain.dll");
        return File.Exists(candidate) ? candidate
            : throw new InvalidOperationException($"build the CLI first: dotnet build src/Client -c Release ({candidate} is missing)");
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ExplainCluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("run explain-bench from within the repository");
    }
}
