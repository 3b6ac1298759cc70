using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Views;
using static TorchSharp.torch;

/// <summary>
/// Channel pruning's two passes (<see cref="ChannelPruning"/>) on the demo model's layer "10" (128 channels, [128, 7, 7])
/// and the first SAMPLES Fashion-MNIST test images, one intra-op thread, for a few row budgets: seconds per pass and
/// per channel (the importance pass runs the head C + 1 times, the curve pass once per point of the curve, 129 here),
/// beside one plain forward of the same samples. Best of two after a warm-up.
///   explain-bench pruning [SAMPLES [MAXROWS ...]]   (default 2048, row budgets 64 256 1024)
/// </summary>
internal static class PruningCost
{
    private const string Layer = "10";

    public static async Task RunAsync(string[] args, string sample)
    {
        set_num_threads(1);
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2048;
        int[] budgets = args.Length > 1 ? [.. args[1..].Select(a => int.Parse(a, CultureInfo.InvariantCulture))] : [64, 256, 1024];
        var images = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")));
        var labelFile = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")));
        var raw = await images.ReadFloatsAsync(0, samples);
        var labels = await labelFile.ReadIntegersAsync(0, samples);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
        using var x = (tensor(raw, [samples, 1, 28, 28]) / 255.0f - 0.286f) / 0.353f;
        using var y = tensor(labels);

        var forward = Best(() =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            for (var start = 0; start < samples; start += 256)
                model.Forward(model.PrepareInput(x.narrow(0, start, Math.Min(256, samples - start))));
        });
        var sums = ChannelPruning.Importance(model, Layer, x, y, y, 2048);
        var ranking = PruningSummary.Rank(sums);
        var channels = sums.Channels;
        var removed = PruningSummary.CurvePoints(channels);
        var curve = PruningSummary.Summarize(ChannelPruning.Curve(model, Layer, x, y, y, ranking.Order, removed, 2048));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{samples} demo images, layer \"{Layer}\" ({channels} channels), {removed.Length} curve points, 1 thread; plain forward {forward:F3} s"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"accuracy {curve.Accuracy![0]:P2}; {curve.MaxRemovable} channels removable within 1 point ({curve.Accuracy[Array.IndexOf(removed, curve.MaxRemovable)]:P2})"));
        Console.WriteLine();
        Console.WriteLine("| maxRows | importance pass (s) | per channel (ms) | curve pass (s) | per curve point (ms) | both, per channel (ms) | both ÷ plain forward |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var maxRows in budgets)
        {
            var importance = Best(() => ChannelPruning.Importance(model, Layer, x, y, y, maxRows));
            var curvePass = Best(() => ChannelPruning.Curve(model, Layer, x, y, y, ranking.Order, removed, maxRows));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {maxRows} | {importance:F2} | {importance / channels * 1e3:F1} | {curvePass:F2} | {curvePass / removed.Length * 1e3:F1} | {(importance + curvePass) / channels * 1e3:F1} | {(importance + curvePass) / forward:F1} |"));
        }
    }

    private static double Best(Action run)
    {
        run();
        return Enumerable.Range(0, 2).Min(_ =>
        {
            var watch = Stopwatch.StartNew();
            run();
            return watch.Elapsed.TotalSeconds;
        });
    }
}
