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
// Both sides are warmed up first (TorchScript's profiling executor specialises over the first runs of
// each batch shape), then measured in alternation; each figure is the best of the measured rounds.
var threadCounts = args.Length > 0 ? args.Select(int.Parse).ToArray() : [1, 2];
var sample = Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist");
const int Batch = 256;
var WarmUp = int.Parse(Environment.GetEnvironmentVariable("BENCH_WARMUP") ?? "4");
var Rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "8");
var inv = CultureInfo.InvariantCulture;
var (raw, labels) = await LoadAsync(sample);

Console.WriteLine("| intra-op threads | plain forward+backward, owned thread (samples/s) | plain forward+backward, main thread (samples/s) | saliency + Grad-CAM end to end through the cluster (samples/s) | ratio to owned thread | ratio to main thread | shard tensor work only (samples/s) |");
Console.WriteLine("|---|---|---|---|---|---|---|");
foreach (var threads in threadCounts)
{
    torch.set_num_threads(threads);
    using var model = jit.load(Path.Combine(sample, "model.pt"));
    model.eval();
    var owned = new OwnedThread(threads);
    await using var cluster = await EmbeddedCluster.StartAsync([$"--ModelHost:IntraOpThreads={threads}"]);
    for (var i = 0; i < WarmUp; i++)
    {
        await ThroughCluster(cluster, sample);
        await owned.RunAsync(() => PlainForwardBackward(model, raw, labels));
        PlainForwardBackward(model, raw, labels);
    }
    double bestOwned = 0, bestMain = 0, bestCluster = 0, bestCompute = 0;
    for (var i = 0; i < Rounds; i++)
    {
        bestOwned = Math.Max(bestOwned, await owned.RunAsync(() => PlainForwardBackward(model, raw, labels)));
        bestMain = Math.Max(bestMain, PlainForwardBackward(model, raw, labels));
        var (endToEnd, compute) = await ThroughCluster(cluster, sample);
        (bestCluster, bestCompute) = (Math.Max(bestCluster, endToEnd), Math.Max(bestCompute, compute));
    }
    owned.Dispose();
    Console.WriteLine(string.Create(inv,
        $"| {threads} | {bestOwned:F0} | {bestMain:F0} | {bestCluster:F0} | {bestCluster / bestOwned:F2} | {bestCluster / bestMain:F2} | {bestCompute:F0} |"));
}

static async Task<(float[] Raw, long[] Labels)> LoadAsync(string sample)
{
    var images = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")));
    var labels = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")));
    var n = (int)images.Header.Count;
    return (await images.ReadFloatsAsync(0, n), await labels.ReadIntegersAsync(0, n));
}

static double PlainForwardBackward(jit.ScriptModule model, float[] raw, long[] y)
{
    var n = y.Length;
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
    var status = await JobRunner.RunAsync(cluster.Grains, job, poll: TimeSpan.FromMilliseconds(10));
    var seconds = watch.Elapsed.TotalSeconds;
    if (status.State != JobState.Completed) throw new InvalidOperationException(status.Error);
    using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "manifest.json")));
    var computeSeconds = manifest.RootElement.GetProperty("shards").EnumerateArray().Sum(s => s.GetProperty("seconds").GetDouble());
    Directory.Delete(output, recursive: true);
    return (status.SamplesDone / seconds, status.SamplesDone / computeSeconds);
}

/// <summary>A thread of the benchmark's own, as the model host has, with its own intra-op setting.</summary>
sealed class OwnedThread : IDisposable
{
    private readonly System.Collections.Concurrent.BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public OwnedThread(int threads)
    {
        _thread = new Thread(() =>
        {
            torch.set_num_threads(threads);
            foreach (var work in _work.GetConsumingEnumerable()) work();
        }) { IsBackground = true };
        _thread.Start();
    }

    public Task<double> RunAsync(Func<double> work)
    {
        var done = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() => done.SetResult(work()));
        return done.Task;
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
    }
}
