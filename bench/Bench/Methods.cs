using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// Each method alone through a shard's tensor work (ShardExplainer.Compute, one thread, one intra-op thread)
/// on the demo model and the first SAMPLES Fashion-MNIST test images, beside the bound it is held to: the
/// same number of plain forward + backward passes to the input (TargetGradients at the job's batch of 256
/// rows), or of forward passes only, measured in the same process.
///   explain-bench methods [SAMPLES] [WORD…]   (default 512; with words, only the cases whose job file contains one)
/// </summary>
internal static class Methods
{
    private const int Batch = 256;

    /// <summary>
    /// Job-file methods, and the forward + backward passes their definition costs per sample (steps, noisy
    /// copies): the bound is that many plain passes. What a method pays beyond it (the shard's shared forward,
    /// IG's forward of the baseline for its delta, noise, weighting) is what the ratio measures.
    /// Lime and kernel-shap are held to forward passes only (their perturbations need no gradient), on the first
    /// 64 images (1000 and 2048 perturbations each), with SLIC segments.
    /// </summary>
    private static readonly (string Json, int Passes, bool ForwardOnly)[] Cases =
    [
        ("\"saliency\": {}", 1, false),
        ("\"grad-x-input\": {}", 1, false),
        ("\"grad-cam\": { \"layer\": \"10\" }", 1, false),
        ("\"integrated-gradients\": {}", 50, false),
        ("\"smooth-grad\": {}", 25, false),
        ("\"smooth-grad\": { \"of\": \"integrated-gradients\", \"samples\": 4, \"steps\": 16 }", 64, false),
        ("\"lime\": {}", 1000, true),
        ("\"kernel-shap\": {}", 2048, true),
        ("\"grad-cam-plus-plus\": { \"layer\": \"10\" }", 1, false),
        ("\"hires-cam\": { \"layer\": \"10\" }", 1, false),
        ("\"xgrad-cam\": { \"layer\": \"10\" }", 1, false),
        ("\"layer-cam\": { \"layer\": \"10\" }", 1, false),
        ("\"grad-cam-element-wise\": { \"layer\": \"10\" }", 1, false),
        ("\"eigen-cam\": { \"layer\": \"10\" }", 1, true),
        ("\"eigen-grad-cam\": { \"layer\": \"10\" }", 1, false),
        ("\"score-cam\": { \"layer\": \"10\" }", 128, true),
        ("\"ablation-cam\": { \"layer\": \"10\" }", 128, true),
        ("\"occlusion\": { \"window\": [1, 7, 7], \"stride\": 7 }", 16, true),
    ];

    private const int PerturbationSamples = 64;

    public static async Task RunAsync(string[] args, string sample)
    {
        set_num_threads(1);
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 512;
        var words = args.Skip(1).ToArray();
        var data = await DemoImages.LoadAsync(sample, samples);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");

        var (backward, forward) = (PlainRate(model, data, withBackward: true), PlainRate(model, data, withBackward: false));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{samples} demo images, batch {Batch}, 1 thread; plain passes: forward + backward to the input {backward:F0} rows/s, forward only {forward:F0} rows/s"));
        Console.WriteLine();
        Console.WriteLine("| method (job file) | samples/s | passes per sample | bound: plain passes (samples/s) | ratio to the bound |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (json, passes, forwardOnly) in Cases.Where(c => words.Length == 0 || words.Any(w => c.Json.Contains(w, StringComparison.Ordinal))))
        {
            var slice = forwardOnly ? data with { Count = PerturbationSamples, Raw = data.Raw[..(PerturbationSamples * 784)], Labels = data.Labels?[..PerturbationSamples] } : data;
            var job = JobFile.Parse($$"""
                { "model": { "uri": "{{Path.Combine(sample, "model.pt")}}" }, "data": { "inputs": "x.npy",
                  "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
                  "methods": { {{json}} }, "segments": { "algorithm": "slic" }, "batchSize": {{Batch}}, "output": "out" }
                """, sample);
            ShardExplainer.Compute(model, job, slice); // warm-up: TorchScript specialises over the first runs
            var best = 0.0;
            for (var round = 0; round < 2; round++)
            {
                var watch = Stopwatch.StartNew();
                ShardExplainer.Compute(model, job, slice);
                best = Math.Max(best, slice.Count / watch.Elapsed.TotalSeconds);
            }
            // The plain pass again beside each method (this machine's speed drifts): the faster of before and after.
            var plain = Math.Max(forwardOnly ? forward : backward, PlainRate(model, data, withBackward: !forwardOnly));
            if (forwardOnly) forward = plain; else backward = plain;
            var bound = plain / passes;
            var kind = forwardOnly ? "forward" : "forward + backward";
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{json}` | {best:F1} | {passes} {kind} | {bound:F1} | {best / bound:F2} |"));
        }
    }

    /// <summary>Rows per second of the plain pass over the data at the job's batch size, best of three after a warm-up.</summary>
    private static double PlainRate(ExplainModel model, ShardData data, bool withBackward)
    {
        double Once()
        {
            var watch = Stopwatch.StartNew();
            for (var start = 0; start < data.Count; start += Batch)
            {
                using var scope = NewDisposeScope();
                var count = Math.Min(Batch, data.Count - start);
                var x = (tensor(data.Raw.AsSpan(start * 784, count * 784).ToArray(), [count, 1, 28, 28]) / 255.0f - 0.286f) / 0.353f;
                var targets = zeros(count, dtype: ScalarType.Int64);
                if (withBackward) TargetGradients.Compute(model, x, targets, Batch);
                else TargetGradients.Outputs(model, x, targets, Batch);
            }
            return data.Count / watch.Elapsed.TotalSeconds;
        }
        Once();
        return Enumerable.Range(0, 3).Max(_ => Once());
    }
}
