using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;

// Throughput of saliency + Grad-CAM end to end through an embedded cluster, beside a plain
// forward+backward (cross-entropy loss, parameter gradients) of the same model on the same data,
// measured in the same process with the same libtorch intra-op thread count.
//   dotnet run --project bench/Bench -c Release -- [threads...]   (default: 1 2)
var threadCounts = args.Length > 0 ? args.Select(int.Parse).ToArray() : [1, 2];
var sample = Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist");
const int Batch = 256;
const int Repeats = 3;
var inv = CultureInfo.InvariantCulture;
Console.WriteLine("| intra-op threads | plain forward+backward (samples/s) | saliency + Grad-CAM end to end through the cluster (samples/s) | ratio | shard compute only (samples/s) | ratio |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var threads in threadCounts)
{
    torch.set_num_threads(threads);
    var plain = Enumerable.Range(0, Repeats).Select(_ => PlainForwardBackward(sample)).Max();
    var (cluster, compute) = (0.0, 0.0);
    await using (var embedded = await EmbeddedCluster.StartAsync([$"--ModelHost:IntraOpThreads={threads}"]))
    {
        for (var r = 0; r < Repeats; r++)
        {
            var (endToEnd, shardsOnly) = await ThroughCluster(embedded, sample);
            (cluster, compute) = (Math.Max(cluster, endToEnd), Math.Max(compute, shardsOnly));
        }
    }
    Console.WriteLine(string.Create(inv, $"| {threads} | {plain:F0} | {cluster:F0} | {cluster / plain:F2} | {compute:F0} | {compute / plain:F2} |"));
}

static double PlainForwardBackward(string sample)
{
    var images = ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte"))).GetAwaiter().GetResult();
    var labels = ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte"))).GetAwaiter().GetResult();
    var n = (int)images.Header.Count;
    var raw = images.ReadFloatsAsync(0, n).GetAwaiter().GetResult();
    var y = labels.ReadIntegersAsync(0, n).GetAwaiter().GetResult();
    using var model = jit.load(Path.Combine(sample, "model.pt"));
    model.eval();
    var watch = Stopwatch.StartNew();
    for (var start = 0; start < n; start += Batch)
    {
        using var scope = NewDisposeScope();
        var count = Math.Min(Batch, n - start);
        var x = (tensor(raw.AsSpan(start * 784, count * 784).ToArray(), [count, 1, 28, 28]) / 255.0 - 0.286) / 0.353;
        var logits = (Tensor)model.call(x);
        var loss = nn.functional.cross_entropy(logits, tensor(y.AsSpan(start, count).ToArray()));
        model.zero_grad();
        loss.backward();
    }
    return n / watch.Elapsed.TotalSeconds;
}

static async Task<(double EndToEnd, double ShardCompute)> ThroughCluster(EmbeddedCluster cluster, string sample)
{
    var output = Path.Combine(Path.GetTempPath(), "explain-bench", Guid.NewGuid().ToString("N"));
    var json = $$"""
        { "name": "bench", "model": { "uri": "model.pt" },
          "data": { "inputs": "t10k-images-idx3-ubyte", "labels": "t10k-labels-idx1-ubyte",
                    "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "saliency": {}, "grad-cam": { "layer": "7" } },
          "shardSize": 2048, "batchSize": {{Batch}}, "output": "{{output}}" }
        """;
    var job = JobFile.Parse(json, sample);
    var watch = Stopwatch.StartNew();
    var status = await JobRunner.RunAsync(cluster.Grains, job, poll: TimeSpan.FromMilliseconds(20));
    var seconds = watch.Elapsed.TotalSeconds;
    if (status.State != JobState.Completed) throw new InvalidOperationException(status.Error);
    using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "manifest.json")));
    var computeSeconds = manifest.RootElement.GetProperty("shards").EnumerateArray().Sum(s => s.GetProperty("seconds").GetDouble());
    Directory.Delete(output, recursive: true);
    return (status.SamplesDone / seconds, status.SamplesDone / computeSeconds);
}
