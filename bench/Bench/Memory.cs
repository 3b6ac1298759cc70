using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;

/// <summary>
/// Peak resident memory of <c>explain run</c> (a process of its own, embedded silo and all) on the demo job
/// over datasets of growing size: the Fashion-MNIST test set tiled to each size.
///   explain-bench memory [SAMPLES ...]   (default: 10000 50000 200000; BENCH_KEEP=1 keeps the datasets
///   and outputs in $TMPDIR/explain-bench-memory)
/// </summary>
internal static class Memory
{
    public static async Task RunAsync(string[] sizes, string sample)
    {
        var explain = FindExplain();
        var counts = sizes.Length > 0 ? sizes.Select(long.Parse).ToArray() : [10_000L, 50_000, 200_000];
        var images = await (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")))).ReadBytesAsync(0, 10_000);
        var labels = await (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")))).ReadIntegersAsync(0, 10_000);
        Console.WriteLine($"`explain run` ({explain}) on the demo job (saliency, grad-x-input, grad-cam), shardSize 1024, default silo settings");
        Console.WriteLine();
        Console.WriteLine("| samples | input file (MB) | outputs written (MB) | peak resident memory (MB) | seconds | samples/s |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var count in counts)
        {
            var folder = Path.Combine(Path.GetTempPath(), "explain-bench-memory", count.ToString(CultureInfo.InvariantCulture));
            Directory.CreateDirectory(folder);
            var tiled = new byte[count * 784];
            var tiledLabels = new long[count];
            for (long i = 0; i < count; i++)
            {
                Array.Copy(images, i % 10_000 * 784, tiled, i * 784, 784);
                tiledLabels[i] = labels[i % 10_000];
            }
            await File.WriteAllBytesAsync(Path.Combine(folder, "images.npy"), NpyFormat.Encode(tiled, [count, 28, 28]));
            await File.WriteAllBytesAsync(Path.Combine(folder, "labels.npy"), NpyFormat.Encode(tiledLabels, [count]));
            var job = File.ReadAllText(Path.Combine(sample, "job.json"))
                .Replace("\"t10k-images-idx3-ubyte\"", "\"images.npy\"", StringComparison.Ordinal)
                .Replace("\"t10k-labels-idx1-ubyte\"", "\"labels.npy\"", StringComparison.Ordinal)
                .Replace("\"model.pt\"", $"\"{Path.Combine(sample, "model.pt")}\"", StringComparison.Ordinal);
            await File.WriteAllTextAsync(Path.Combine(folder, "job.json"), job);
            var output = Path.Combine(folder, "out");
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);

            var (peak, seconds) = await MeasureAsync(explain, Path.Combine(folder, "job.json"), output);
            var written = Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {count} | {tiled.Length / 1e6:F0} | {written / 1e6:F0} | {peak / 1e6:F0} | {seconds:F1} | {count / seconds:F0} |"));
            if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Runs the CLI and samples its VmHWM (the kernel's peak resident set) until it exits.</summary>
    private static async Task<(long PeakBytes, double Seconds)> MeasureAsync(string explain, string job, string output)
    {
        var start = new ProcessStartInfo("dotnet", [explain, "run", job, "--out", output])
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
            throw new InvalidOperationException($"explain run failed ({process.ExitCode}): {await stderr}{await stdout}");
        return (peak, seconds);
    }

    private static long PeakResident(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0; // exited between the check and the read
        }
    }

    private static string FindExplain()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Client", "bin", "Release", "net10.0", "explain.dll");
            if (File.Exists(Path.Combine(dir.FullName, "ExplainCluster.sln")))
                return File.Exists(candidate) ? candidate
                    : throw new InvalidOperationException($"build the CLI first: dotnet build src/Client -c Release ({candidate} is missing)");
        }
        throw new InvalidOperationException("run explain-bench from within the repository");
    }
}
