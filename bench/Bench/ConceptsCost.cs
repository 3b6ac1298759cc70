using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Concepts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using static TorchSharp.torch;

/// <summary>
/// explain-bench concepts [samples] [examples] [runs]: TCAV's cost on the demo model at layer "10" (Grad-CAM's), as the shard tensor
/// work of ShardExplainer on one thread (no cluster). Concepts from the demo set's own images beyond the explained ones (trousers,
/// sandals, bags: `examples` each; 2 × examples random images of any class). Prints the CAVs' training time (activations and
/// classifiers of 3 concepts + the random pairs, `runs` each) and the explain pass's ms per sample: the job with the `input` method
/// alone (a forward: the floor), with TCAV added (its own backward from the logits to the layer: the bound is one forward and
/// one backward to the layer per sample), and with Grad-CAM at the same layer, alone and with TCAV (TCAV reuses the shared
/// pass's gradient at the layer). Best of the rounds after a warm-up, from one run.
/// </summary>
internal static class ConceptsCost
{
    public static async Task RunAsync(string[] args, string sample)
    {
        var inv = CultureInfo.InvariantCulture;
        var count = args is [var n, ..] ? int.Parse(n, inv) : 1024;
        var examples = args.Length > 1 ? int.Parse(args[1], inv) : 50;
        var runs = args.Length > 2 ? int.Parse(args[2], inv) : 10;
        var rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "2", inv);
        set_num_threads(1);
        var all = await DemoImages.LoadAsync(sample, 10_000);
        var data = all with { Count = count, Raw = all.Raw[..(count * 784)], Labels = all.Labels![..count] };
        var folder = Path.Combine(Path.GetTempPath(), $"explain-bench-concepts-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            await WriteAsync(folder, "images", data.Raw, count);
            float[] Of(IEnumerable<int> rows) => [.. rows.SelectMany(r => all.Raw.AsSpan(r * 784, 784).ToArray())];
            var beyond = Enumerable.Range(5000, 5000).ToArray();
            foreach (var (name, label) in new[] { ("trouser", 1L), ("sandal", 5L), ("bag", 8L) })
                await WriteAsync(folder, name, Of(beyond.Where(r => all.Labels![r] == label).Take(examples)), examples);
            await WriteAsync(folder, "random", Of(beyond.Skip(2000).Take(2 * examples)), 2 * examples);
            var concepts = $$""", "concepts": { "layer": "10", "sets": { "trouser": "trouser.npy", "sandal": "sandal.npy", "bag": "bag.npy" }, "random": "random.npy", "runs": {{runs}} }""";
            using var model = ExplainModel.Load(Path.Combine(sample, "model.pt"), CPU, "model.pt");
            JobSpec Job(string methods, string extra) => JobFile.Parse($$"""
                { "model": { "uri": "model.pt" }, "data": { "inputs": "images.npy",
                  "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
                  "methods": { {{methods}} }, "batchSize": 256, "output": "out" {{extra}} }
                """, folder);

            var job = Job(""" "input": {} """, concepts);
            var sets = await ConceptSets.ReadAsync(job, new BlobLocator(null));
            ConceptVectors? vectors = null;
            var training = Best(rounds, () => vectors = ConceptVectors.Train(model, job, sets));
            Console.WriteLine(string.Create(inv, $"{count} samples of the demo set, batch 256, 1 intra-op thread; layer \"10\" ({vectors!.Dim} values), 3 concepts × {examples} examples, {2 * examples} random, {runs} runs: {vectors.Count} CAVs"));
            Console.WriteLine(string.Create(inv, $"CAV training (activations of {sets.Concepts.Sum(c => c.Count) + sets.Random.Count} examples, {vectors.Count} classifiers of {2 * vectors.Examples} examples): {training:F2} s"));
            Console.WriteLine("| job | ms per sample | samples/s | TCAV's share, ms per sample |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var (name, methods) in new[] { ("input (forward only)", """ "input": {} """), ("grad-cam at \"10\"", """ "grad-cam": { "layer": "10" } """) })
            {
                var alone = Best(rounds, () => ShardExplainer.Compute(model, Job(methods, ""), data));
                var with = Best(rounds, () => ShardExplainer.Compute(model, Job(methods, concepts), data, concepts: vectors));
                Console.WriteLine(string.Create(inv, $"| {name} | {1000 * alone / count:F3} | {count / alone:F0} | |"));
                Console.WriteLine(string.Create(inv, $"| {name} + tcav | {1000 * with / count:F3} | {count / with:F0} | {1000 * (with - alone) / count:F3} |"));
            }
            // The bound: one forward to the layer without gradients, then the head forward and backward, alone.
            var split = model.Split("10");
            var bound = Best(rounds, () =>
            {
                var one = vectors with { Concepts = [], Runs = 1, Vectors = vectors.Vectors[..vectors.Dim], Accuracy = [1] };
                var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
                for (var start = 0; start < count; start += 256)
                {
                    using var scope = NewDisposeScope();
                    var rows = Math.Min(256, count - start);
                    var x = model.PrepareInput(preprocess.Apply(tensor(data.Raw.AsSpan(start * 784, rows * 784).ToArray(), [rows, 1, 28, 28])));
                    ConceptLayer.Derivatives(model, split, x, zeros(rows, dtype: ScalarType.Int64), one);
                }
            });
            Console.WriteLine(string.Create(inv, $"| bound: forward + backward to the layer, one CAV | {1000 * bound / count:F3} | {count / bound:F0} | |"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Task WriteAsync(string folder, string name, float[] values, int count) =>
        File.WriteAllBytesAsync(Path.Combine(folder, name + ".npy"), NpyFormat.Encode(values, [count, 1, 28, 28]));

    private static double Best(int rounds, Action work)
    {
        work();
        var best = double.MaxValue;
        for (var r = 0; r < rounds; r++)
        {
            var watch = Stopwatch.StartNew();
            work();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return best;
    }
}
