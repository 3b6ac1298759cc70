using System.Globalization;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

/// <summary>
/// explain-bench trust [samples] [methods...]: the cost of each trust metric per sample and method, as the shard tensor work
/// of ShardExplainer on one thread (no cluster): the method alone, then the method with one metric at a time (its
/// defaults: sensitivity 10 draws, ROAD 9 percentages), the metric's cost being the difference; its ratio is to the job with the
/// method alone (its forward, backward and the method's own passes). The figures are the best of the rounds, from one run.
/// </summary>
internal static class TrustCost
{
    private static readonly (string Name, string Trust)[] Metrics =
    [
        ("complexity", """{ "sensitivity": false, "randomLogit": false, "road": false }"""),
        ("sensitivity (10 draws)", """{ "complexity": false, "randomLogit": false, "road": false }"""),
        ("random-logit", """{ "complexity": false, "sensitivity": false, "road": false }"""),
        ("ROAD (9 percentages)", """{ "complexity": false, "sensitivity": false, "randomLogit": false }"""),
    ];

    private static readonly Dictionary<string, string> Known = new(StringComparer.Ordinal)
    {
        ["saliency"] = """ "saliency": {} """,
        ["grad-cam"] = """ "grad-cam": { "layer": "10" } """,
        ["integrated-gradients"] = """ "integrated-gradients": { "steps": 16 } """,
        ["smooth-grad"] = """ "smooth-grad": { "samples": 8 } """,
    };

    public static async Task RunAsync(string[] args, string sample)
    {
        var inv = CultureInfo.InvariantCulture;
        var count = args is [var n, ..] ? int.Parse(n, inv) : 256;
        string[] methods = args.Length > 1 ? args[1..] : ["saliency", "grad-cam", "integrated-gradients"];
        var rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "2", inv);
        var data = await DemoImages.LoadAsync(sample, count);
        set_num_threads(1);
        using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
        double Seconds(string methodJson, string extra) => ShardJobTimer.BestSeconds(model, data, sample, methodJson, extra, rounds);
        // A job whose only method is the input itself: the shard's forward and bookkeeping, which every row below pays.
        var floor = Seconds(""" "input": {} """, "");
        Console.WriteLine($"{count} samples of the demo set, batch 256, 1 intra-op thread; best of {rounds} after 1 warm-up; forward-only floor {1000 * floor / count:F2} ms/sample");
        Console.WriteLine("| method | metric | ms per sample | × the job with the method alone |");
        Console.WriteLine("|---|---|---|---|");
        foreach (var method in methods)
        {
            var json = Known.GetValueOrDefault(method) ?? throw new ArgumentException($"unknown method {method}; one of {string.Join(", ", Known.Keys)}");
            var alone = Seconds(json, "");
            Console.WriteLine(string.Create(inv, $"| {method} | (the job with the method alone) | {1000 * alone / count:F2} | 1 |"));
            foreach (var (name, trust) in Metrics)
            {
                var cost = Seconds(json, $""", "trust": {trust}""") - alone;
                Console.WriteLine(string.Create(inv, $"| {method} | {name} | {1000 * cost / count:F2} | {cost / alone:F1} |"));
            }
        }
    }
}
