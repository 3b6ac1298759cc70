using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using System.Text.Json;

/// <summary>
/// explain-bench compare [SAMPLES ...] (default 100000): what `explain compare` costs beside the runs it compares. The
/// Fashion-MNIST test set tiled to SAMPLES; `explain run` of the demo model (A) and of its retraining
/// (tests/fixtures/compare/seed1.pt, B), saliency + grad-cam, shardSize 4096; then `explain compare A B`, which reads
/// both runs' predictions and maps in sample order and runs both models once more for linear CKA. Each a process of its
/// own; wall time and peak resident memory (VmHWM). BENCH_KEEP=1 keeps $TMPDIR/explain-bench-compare.
/// </summary>
internal static class CompareCost
{
    public static async Task RunAsync(string[] sizes, string sample)
    {
        var explain = Memory.FindExplain();
        var retrained = Path.Combine(Memory.RepositoryRoot(), "tests", "fixtures", "compare", "seed1.pt");
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"`explain run` ×2 and `explain compare` ({explain}), saliency + grad-cam, shardSize 4096, default silo settings");
        Console.WriteLine();
        Console.WriteLine("| samples | run A (s) | run B (s) | run B peak (MB) | compare (s) | compare peak (MB) | compare / run B | of which outputs (s) | of which CKA (s) | linear CKA | median ρ saliency |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var count in sizes.Length > 0 ? sizes.Select(long.Parse).ToArray() : [100_000L])
        {
            var folder = Path.Combine(Path.GetTempPath(), "explain-bench-compare", count.ToString(inv));
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
            Directory.CreateDirectory(folder);
            await Memory.TileAsync(sample, count, folder);
            var runs = new List<(string Output, long Peak, double Seconds)>();
            foreach (var (name, model) in new[] { ("a", Path.Combine(sample, "model.pt")), ("b", retrained) })
            {
                var job = Path.Combine(folder, $"{name}.json");
                await File.WriteAllTextAsync(job, $$"""
                    {
                      "name": "bench-compare-{{name}}",
                      "model": { "uri": "{{model}}" },
                      "data": { "inputs": "images.npy", "labels": "labels.npy",
                                "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
                      "methods": { "saliency": {}, "grad-cam": { "layer": "10" } },
                      "shardSize": 4096,
                      "output": "{{name}}"
                    }
                    """);
                var output = Path.Combine(folder, name);
                var (peak, seconds) = await Memory.MeasureAsync(explain, "run", job, "--out", output);
                runs.Add((output, peak, seconds));
            }
            var compared = Path.Combine(folder, "compare");
            var (comparePeak, compareSeconds) = await Memory.MeasureAsync(explain, "compare", runs[0].Output, runs[1].Output, "--out", compared);
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(compared, "comparison.json")));
            var cka = json.RootElement.GetProperty("representation").GetProperty("linearCka").GetDouble();
            var rho = json.RootElement.GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("method").GetString() == "saliency")
                .GetProperty("spearman").GetProperty("median").GetDouble();
            // The same comparison split in this process: reading the outputs (maps, predictions) and the CKA pass.
            var locator = new BlobLocator(null);
            var watch = Stopwatch.StartNew();
            await new Comparer(locator).CompareAsync(runs[0].Output, runs[1].Output);
            var outputsSeconds = watch.Elapsed.TotalSeconds;
            using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, locator);
            var (a, b) = (await RunOutputs.OpenAsync(locator, runs[0].Output, "baseline"), await RunOutputs.OpenAsync(locator, runs[1].Output, "candidate"));
            watch.Restart();
            await new RepresentationComparison(host, locator).SumsAsync(a, b, 0, b.Manifest.Samples);
            var ckaSeconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(inv,
                $"| {count} | {runs[0].Seconds:F1} | {runs[1].Seconds:F1} | {runs[1].Peak / 1e6:F0} | {compareSeconds:F1} | {comparePeak / 1e6:F0} | {compareSeconds / runs[1].Seconds:F2} | {outputsSeconds:F1} | {ckaSeconds:F1} | {cka:F3} | {rho:F3} |"));
            if (Environment.GetEnvironmentVariable("BENCH_KEEP") != "1") Directory.Delete(folder, recursive: true);
        }
    }
}
