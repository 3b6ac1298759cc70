using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Views;
using static TorchSharp.torch;

/// <summary>
/// Activation maximisation's time per class: the demo model's 10 class logits at the default options (256 steps),
/// one class at a time and all ten as one batch, 1 intra-op thread, after a short warm-up (TorchScript's profiling
/// executor specialises over the first runs). Writes the ten class images as one PNG row to the temp folder.
///   explain-bench maximisation [STEPS]   (default 256)
/// </summary>
internal static class MaximisationCost
{
    public static void Run(string[] args, string sample)
    {
        set_num_threads(1);
        var steps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : new MaximisationOptions().Steps;
        var options = new MaximisationOptions(Steps: steps);
        int[] shape = [1, 28, 28];
        var bounds = InputBounds.For(new PreprocessSpec(1 / 255.0, [0.286], [0.353], null), 1);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
        Objective[] classes = [.. Enumerable.Range(0, 10).Select(c => new ClassObjective(c))];
        ActivationMaximisation.Run(model, shape, classes, options with { Steps = 16 }, bounds, batched: true);
        ActivationMaximisation.Run(model, shape, classes[0], options with { Steps = 16 }, bounds);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"demo model, 10 classes, {steps} steps, defaults ({options}), 1 thread"));
        Console.WriteLine();
        Console.WriteLine("| mode | total (s) | per class (s) | per class and step (ms) | lowest final probability |");
        Console.WriteLine("|---|---|---|---|---|");
        IReadOnlyList<MaximisationResult>? alone = null;
        foreach (var batched in new[] { false, true })
        {
            var watch = Stopwatch.StartNew();
            var results = ActivationMaximisation.Run(model, shape, classes, options, bounds, batched);
            var seconds = watch.Elapsed.TotalSeconds;
            alone ??= results;
            Console.WriteLine(string.Create(inv,
                $"| {(batched ? "batched (one batch of 10)" : "one class at a time")} | {seconds:F2} | {seconds / 10:F3} | {seconds / 10 / steps * 1e3:F2} | {results.Min(r => r.Probability):F4} |"));
        }
        var grid = new double[28 * 28 * 10];
        foreach (var (r, c) in alone!.Select((r, c) => (r, c)))
        {
            var (lo, hi) = (r.Input.Min(), r.Input.Max());
            for (var y = 0; y < 28; y++)
                for (var x = 0; x < 28; x++) grid[y * 280 + c * 28 + x] = (r.Input[y * 28 + x] - lo) / Math.Max(1e-9, hi - lo);
        }
        var png = Path.Combine(Path.GetTempPath(), "maximisation-classes.png");
        File.WriteAllBytes(png, Heatmaps.Grey(grid, 28, 280));
        Console.WriteLine();
        Console.WriteLine($"class images (T-shirt/top … Ankle boot, each scaled to its own range): {png}");
    }
}
