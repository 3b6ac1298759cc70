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
///   explain-bench methods [SAMPLES]   (default 512)
/// </summary>
internal static class Methods
{
    private const int Batch = 256;

    /// <summary>
    /// Job-file methods, and the forward + backward passes their definition costs per sample (steps, noisy
    /// copies): the bound is that many plain passes. What a method pays beyond it (the shard's shared forward,
    /// IG's forward of the baseline for its delta, noise, weighting) is what the ratio measures.
    /// </summary>
    private static readonly (string Json, int Passes)[] Cases =
    [
        ("\"saliency\": {}", 1),
        ("\"grad-x-input\": {}", 1),
        ("\"grad-cam\": { \"layer\": \"10\" }", 1),
        ("\"integrated-gradients\": {}", 50),
        ("\"smooth-grad\": {}", 25),
        ("\"smooth-grad\": { \"of\": \"integrated-gradients\", \"samples\": 4, \"steps\": 16 }", 64),
    ];

    public static async Task RunAsync(string[] args, string sample)
    {
        set_num_threads(1);
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 512;
        var file = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")));
        var labels = await (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")))).ReadIntegersAsync(0, samples);
        var data = new ShardData(0, samples, await file.ReadFloatsAsync(0, samples), labels, [1, 28, 28]);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");

        var (backward, forward) = (PlainRate(model, data, withBackward: true), PlainRate(model, data, withBackward: false));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{samples} demo images, batch {Batch}, 1 thread; plain passes: forward + backward to the input {backward:F0} rows/s, forward only {forward:F0} rows/s"));
        Console.WriteLine();
        Console.WriteLine("| method (job file) | samples/s | forward + backward passes per sample | bound: plain passes (samples/s) | ratio to the bound |");
        Console.WriteLine("|---|---|---|---|---|");
        foreach (var (json, passes) in Cases)
        {
            var job = JobFile.Parse($$"""
                { "model": { "uri": "{{Path.Combine(sample, "model.pt")}}" }, "data": { "inputs": "x.npy",
                  "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
                  "methods": { {{json}} }, "batchSize": {{Batch}}, "output": "out" }
                """, sample);
            ShardExplainer.Compute(model, job, data); // warm-up: TorchScript specialises over the first runs
            var best = 0.0;
            for (var round = 0; round < 2; round++)
            {
                var watch = Stopwatch.StartNew();
                ShardExplainer.Compute(model, job, data);
                best = Math.Max(best, samples / watch.Elapsed.TotalSeconds);
            }
            var bound = backward / passes;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| `{json}` | {best:F0} | {passes} | {bound:F0} | {best / bound:F2} |"));
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
