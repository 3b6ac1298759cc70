using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// explain-bench faithfulness [steps] [samples]: the cost of the faithfulness evaluation per map method, as the
/// shard tensor work of ShardExplainer on one thread (no cluster, so a busy machine cannot time a job out).
/// Each evaluated ordering costs 2·(steps + 1) forwards per sample; the figures are the best of the rounds.
/// </summary>
internal static class FaithfulnessCost
{
    public static async Task RunAsync(string[] args, string sample)
    {
        var inv = CultureInfo.InvariantCulture;
        var steps = args is [var s, ..] ? int.Parse(s, inv) : 20;
        var count = args is [_, var n, ..] ? int.Parse(n, inv) : 1024;
        var rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "3", inv);
        var data = await DemoImages.LoadAsync(sample, count);
        set_num_threads(1);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
        var faithfulness = $$""", "faithfulness": { "steps": {{steps}} }""";
        (string Name, string Methods, string Extra)[] jobs =
        [
            ("saliency + grad-cam", """ "saliency": {}, "grad-cam": { "layer": "10" } """, ""),
            ("saliency + grad-cam, faithfulness", """ "saliency": {}, "grad-cam": { "layer": "10" } """, faithfulness),
            ("saliency", """ "saliency": {} """, ""),
            ("saliency, faithfulness", """ "saliency": {} """, faithfulness),
        ];
        Console.WriteLine($"{count} samples of the demo set, batch 256, faithfulness steps {steps}, 1 intra-op thread; best of {rounds} after 1 warm-up");
        Console.WriteLine("| job | shard tensor work (samples/s) | seconds per 1000 samples |");
        Console.WriteLine("|---|---|---|");
        foreach (var (name, methods, extra) in jobs)
        {
            var best = ShardJobTimer.BestSeconds(model, data, sample, methods, extra, rounds);
            Console.WriteLine(string.Create(inv, $"| {name} | {count / best:F0} | {1000 * best / count:F2} |"));
        }
    }
}
