using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// What the global views cost beside the job they ride on: a shard's tensor work (ShardExplainer.Compute, one
/// thread) on the demo model and SAMPLES Fashion-MNIST test images, saliency + Grad-CAM, with and without each view,
/// measured in alternation (best of three after a warm-up).
///   explain-bench views [SAMPLES]   (default 4096)
/// </summary>
internal static class ViewsCost
{
    private static readonly (string Name, string Views)[] Cases =
    [
        ("no views", ""),
        ("activations (every top-level child: 14 layers)", ", \"views\": { \"activations\": {} }"),
        ("activations (3 layers: 3, 7, 11)", ", \"views\": { \"activations\": { \"layers\": [\"3\", \"7\", \"11\"] } }"),
        ("weights", ", \"views\": { \"weights\": {} }"),
        ("embedding, its explain-pass part (Σx, Σxxᵀ of layer 12's 128 features)", ", \"views\": { \"embedding\": {} }"),
    ];

    public static async Task RunAsync(string[] args, string sample)
    {
        set_num_threads(1);
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 4096;
        var data = await DemoImages.LoadAsync(sample, samples);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
        var jobs = Cases.Select(c => JobFile.Parse($$"""
            { "model": { "uri": "{{Path.Combine(sample, "model.pt")}}" }, "data": { "inputs": "x.npy",
              "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
              "methods": { "saliency": {}, "grad-cam": { "layer": "10" } }{{c.Views}}, "output": "out" }
            """, sample)).ToArray();
        foreach (var job in jobs) ShardExplainer.Compute(model, job, data); // warm-up
        var best = new double[jobs.Length];
        Array.Fill(best, double.MaxValue);
        for (var round = 0; round < 3; round++)
            for (var j = 0; j < jobs.Length; j++)
            {
                var watch = Stopwatch.StartNew();
                ShardExplainer.Compute(model, jobs[j], data);
                best[j] = Math.Min(best[j], watch.Elapsed.TotalSeconds);
            }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{samples} demo images, saliency + grad-cam, batch 256, 1 thread; best of 3 in alternation"));
        Console.WriteLine();
        Console.WriteLine("| views | seconds | samples/s | cost beside no views |");
        Console.WriteLine("|---|---|---|---|");
        for (var j = 0; j < jobs.Length; j++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {Cases[j].Name} | {best[j]:F2} | {samples / best[j]:F0} | {(j == 0 ? "—" : $"{best[j] / best[0] - 1:+0.0%;-0.0%}")} |"));

        // The embedding's post pass: one more forward over the shard, the layer projected on two components.
        var basis = new ExplainCluster.Contracts.EmbeddingBasis("12", new double[128], [.. Enumerable.Range(0, 256).Select(i => i % 129 == 0 ? 1.0 : 0.0)], 2, 1);
        var work = new ExplainCluster.Contracts.PostWork(null, [], [], basis);
        var post = double.MaxValue;
        ExplainCluster.Engine.Views.PostWorker.Compute(model, jobs[^1], data, work, null);
        for (var round = 0; round < 3; round++)
        {
            var watch = Stopwatch.StartNew();
            ExplainCluster.Engine.Views.PostWorker.Compute(model, jobs[^1], data, work, null);
            post = Math.Min(post, watch.Elapsed.TotalSeconds);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| embedding, its post pass (a forward, projected) | {post:F2} | {samples / post:F0} | {post / best[0]:+0.0%} |"));
    }
}
