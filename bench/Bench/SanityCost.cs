using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// What the sanity check costs beside the map methods it checks: a shard's tensor work (ShardExplainer.Compute,
/// one thread) on the demo model and the first SAMPLES Fashion-MNIST test images, with and without
/// <c>"sanity": {"samples": SAMPLES}</c>, so every sample is in the sanity sample. The difference is the check;
/// per sample and cascade step (the demo model has 7 parameterised layers) it is set against the methods' own
/// cost per sample.
///   explain-bench sanity [SAMPLES]   (default 256)
/// </summary>
internal static class SanityCost
{
    private static readonly string[] Cases =
    [
        "\"saliency\": {}",
        "\"grad-cam\": { \"layer\": \"10\" }",
        "\"saliency\": {}, \"grad-cam\": { \"layer\": \"10\" }, \"grad-x-input\": {}",
        "\"integrated-gradients\": { \"steps\": 16 }",
    ];

    public static async Task RunAsync(string[] args, string sample)
    {
        set_num_threads(1);
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 256;
        var data = await DemoImages.LoadAsync(sample, samples);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
        var layers = model.ParameterLayers().Count;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{samples} demo images, all in the sanity sample, {layers} cascade steps, batch 256, 1 thread"));
        Console.WriteLine();
        Console.WriteLine("| methods (job file) | methods alone (ms/sample) | with sanity (ms/sample) | sanity per sample and step (ms) | ratio to the methods' own cost |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var methods in Cases)
        {
            var plain = Seconds(model, Job(sample, methods, ""), data);
            var checkedJob = Seconds(model, Job(sample, methods, $", \"sanity\": {{ \"samples\": {samples} }}"), data);
            var perStep = (checkedJob - plain) / samples / layers;
            var own = plain / samples;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| `{methods}` | {own * 1e3:F3} | {checkedJob / samples * 1e3:F3} | {perStep * 1e3:F3} | {perStep / own:F2} |"));
        }
    }

    private static ExplainCluster.Contracts.JobSpec Job(string sample, string methods, string sanity) => JobFile.Parse($$"""
        { "model": { "uri": "{{Path.Combine(sample, "model.pt")}}" }, "data": { "inputs": "x.npy", "labels": "y.npy",
          "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { {{methods}} }{{sanity}}, "output": "out" }
        """, sample);

    /// <summary>The shard's tensor work, best of two after a warm-up.</summary>
    private static double Seconds(ExplainModel model, ExplainCluster.Contracts.JobSpec job, ShardData data)
    {
        ShardExplainer.Compute(model, job, data);
        return Enumerable.Range(0, 2).Min(_ =>
        {
            var watch = Stopwatch.StartNew();
            ShardExplainer.Compute(model, job, data);
            return watch.Elapsed.TotalSeconds;
        });
    }
}
