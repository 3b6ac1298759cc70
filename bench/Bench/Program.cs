using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using Microsoft.Extensions.DependencyInjection;
using ExplainCluster.Engine.Storage;
using TorchSharp;
using static TorchSharp.torch;

// Throughput of saliency + Grad-CAM end to end through an embedded cluster, beside a plain
// forward+backward (cross-entropy loss, parameter gradients) of the same model on the same data,
// measured in the same process, on the silo's own model-host thread, with the same intra-op threads.
//   dotnet run --project bench/Bench -c Release -- [threads | WORKERSxTHREADS ...]   (default: 1 2 2x1)
// Both sides are warmed up first (TorchScript's profiling executor specialises over the first runs of
// each batch shape), then measured in alternation; each figure is the best of the measured rounds.
// Configurations as (model-host threads, intra-op threads each): by default one host thread with 1
// and with 2 intra-op threads, and two host threads with 1 intra-op thread each (two shards at once).
if (args is ["methods", .. var methodArgs])
{
    await Methods.RunAsync(methodArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["images", .. var imageArgs])
{
    await ImageDecodeCost.RunAsync(imageArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["tar", .. var tarArgs])
{
    await TarCost.RunAsync(tarArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["views", .. var viewArgs])
{
    await ViewsCost.RunAsync(viewArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["sanity", .. var sanityArgs])
{
    await SanityCost.RunAsync(sanityArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["pruning", .. var pruningArgs])
{
    await PruningCost.RunAsync(pruningArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["maximisation", .. var maximisationArgs])
{
    MaximisationCost.Run(maximisationArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["paramgrads", .. var paramGradArgs])
{
    await ParamGrads.RunAsync(paramGradArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["wide", .. var widths])
{
    await Memory.WideAsync(widths);
    return;
}
if (args is ["faithfulness", .. var faithfulnessArgs])
{
    await FaithfulnessCost.RunAsync(faithfulnessArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["concepts", .. var conceptsArgs])
{
    await ConceptsCost.RunAsync(conceptsArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["trust", .. var trustArgs])
{
    await TrustCost.RunAsync(trustArgs, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["parquet-read", .. var parquetReadArgs])
{
    await ParquetRead.RunAsync(parquetReadArgs);
    return;
}
if (args is ["parquet-reads", .. var parquetReadsArgs])
{
    await ParquetReads.RunAsync(parquetReadsArgs);
    return;
}
if (args is ["synthetic-table", .. var syntheticArgs])
{
    await SyntheticTable.RunAsync(syntheticArgs);
    return;
}
if (args is ["dependence", .. var dependenceArgs])
{
    await DependenceCost.RunAsync(dependenceArgs);
    return;
}
if (args is ["table-perturbation", .. var tableArgs])
{
    await TablePerturbation.RunAsync(tableArgs);
    return;
}
if (args is ["perturbation", .. var rest])
{
    await Perturbation.RunAsync(rest, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["compare", .. var compareSizes])
{
    await CompareCost.RunAsync(compareSizes, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
if (args is ["memory", .. var sizes])
{
    await Memory.RunAsync(sizes, Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist"));
    return;
}
// A configuration may end in "-contiguous" to run the job with ModelHost:MemoryFormat=contiguous (NCHW).
var configs = (args.Length > 0 ? args : ["1", "2", "2x1"]).Select(a =>
{
    var format = a.EndsWith("-contiguous", StringComparison.Ordinal) ? "contiguous" : "channels-last";
    var shape = a.Split('-')[0];
    return shape.Split('x') is [var w, var t] ? (int.Parse(w), int.Parse(t), format) : (1, int.Parse(shape), format);
}).ToArray();
var sample = Path.Combine(AppContext.BaseDirectory, "samples", "fashion-mnist");
const int Batch = 256;
var WarmUp = int.Parse(Environment.GetEnvironmentVariable("BENCH_WARMUP") ?? "2");
var Rounds = int.Parse(Environment.GetEnvironmentVariable("BENCH_ROUNDS") ?? "4");
var inv = CultureInfo.InvariantCulture;
var (raw, labels) = await LoadAsync(sample);
// Throughput is a steady-state figure: the demo's 10,000 test images tiled Tile times, so that the
// per-job costs (planning, summary, report) weigh as they would on a real dataset. Tile=1 is the demo as is.
var tile = int.Parse(Environment.GetEnvironmentVariable("BENCH_TILE") ?? "5");
(raw, labels) = ([.. Enumerable.Repeat(raw, tile).SelectMany(r => r)], [.. Enumerable.Repeat(labels, tile).SelectMany(l => l)]);
var data = Path.Combine(Path.GetTempPath(), "explain-bench-data");
Directory.CreateDirectory(data);
await File.WriteAllBytesAsync(Path.Combine(data, "images.npy"), NpyFormat.Encode(raw, [labels.Length, 28, 28]));
await File.WriteAllBytesAsync(Path.Combine(data, "labels.npy"), NpyFormat.Encode(labels, [labels.Length]));
File.Copy(Path.Combine(sample, "model.pt"), Path.Combine(data, "model.pt"), overwrite: true);
Console.WriteLine($"{labels.Length} samples (the Fashion-MNIST test set × {tile}), batch {Batch}, shardSize 2048, {WarmUp} warm-up and {Rounds} measured rounds");
Console.WriteLine();

Console.WriteLine("| model-host threads × intra-op threads, job memory format | plain forward+backward, NCHW (samples/s) | plain forward+backward, channels-last (samples/s) | saliency + Grad-CAM end to end through the cluster (samples/s) | ratio to the faster plain pass | shard tensor work only, per host thread (samples/s) |");
Console.WriteLine("|---|---|---|---|---|---|");
foreach (var (workers, threads, format) in configs)
{
    await using var cluster = await EmbeddedCluster.StartAsync(
        [$"--ModelHost:WorkerThreads={workers}", $"--ModelHost:IntraOpThreads={threads}", $"--ModelHost:MemoryFormat={format}"]);
    // The plain pass runs where the job's tensor work runs: on the silo's model-host threads, one model
    // copy and one pass over the data per host thread, all at once.
    var modelHost = cluster.Services.GetRequiredService<ModelHost>();
    var models = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => modelHost.RunAsync(() =>
    {
        var m = jit.load(Path.Combine(sample, "model.pt"));
        m.eval();
        return m;
    })));
    async Task<double> PlainAsync(bool channelsLast)
    {
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(models.Select(m => modelHost.RunAsync(() => PlainForwardBackward(m, raw, labels, channelsLast))));
        return models.Length * labels.Length / watch.Elapsed.TotalSeconds;
    }
    for (var i = 0; i < WarmUp; i++)
    {
        await ThroughCluster(cluster, data);
        await PlainAsync(channelsLast: false);
        await PlainAsync(channelsLast: true);
    }
    double bestPlain = 0, bestPlainLast = 0, bestCluster = 0, bestCompute = 0;
    for (var i = 0; i < Rounds; i++)
    {
        bestPlain = Math.Max(bestPlain, await PlainAsync(channelsLast: false));
        var (endToEnd, compute) = await ThroughCluster(cluster, data);
        (bestCluster, bestCompute) = (Math.Max(bestCluster, endToEnd), Math.Max(bestCompute, compute));
        bestPlainLast = Math.Max(bestPlainLast, await PlainAsync(channelsLast: true));
    }
    foreach (var m in models) m.Dispose();
    Console.WriteLine(string.Create(inv,
        $"| {workers} × {threads}, {format} | {bestPlain:F0} | {bestPlainLast:F0} | {bestCluster:F0} | {bestCluster / Math.Max(bestPlain, bestPlainLast):F2} | {bestCompute:F0} |"));
}

static async Task<(float[] Raw, long[] Labels)> LoadAsync(string sample)
{
    var images = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-images-idx3-ubyte")));
    var labels = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(sample, "t10k-labels-idx1-ubyte")));
    var n = (int)images.Header.Count;
    return (await images.ReadFloatsAsync(0, n), await labels.ReadIntegersAsync(0, n));
}

// The plain pass as a PyTorch user writes it: NCHW batches, or channels-last ones (the same values with
// strides [c·h·w, 1, w·c, c]) when channelsLast is set.
static double PlainForwardBackward(jit.ScriptModule model, float[] raw, long[] y, bool channelsLast)
{
    var n = y.Length;
    var watch = Stopwatch.StartNew();
    for (var start = 0; start < n; start += Batch)
    {
        using var scope = NewDisposeScope();
        var count = Math.Min(Batch, n - start);
        var x = (tensor(raw.AsSpan(start * 784, count * 784).ToArray(), [count, 1, 28, 28]) / 255.0 - 0.286) / 0.353;
        if (channelsLast) x = ExplainModel.ToChannelsLast(x);
        var logits = (Tensor)model.call(x);
        var loss = nn.functional.cross_entropy(logits, tensor(y.AsSpan(start, count).ToArray()));
        model.zero_grad();
        loss.backward();
    }
    return n / watch.Elapsed.TotalSeconds;
}

static async Task<(double EndToEnd, double ShardCompute)> ThroughCluster(EmbeddedCluster cluster, string folder)
{
    var output = Path.Combine(Path.GetTempPath(), "explain-bench", Guid.NewGuid().ToString("N"));
    var json = $$"""
        { "name": "bench", "model": { "uri": "model.pt" },
          "data": { "inputs": "images.npy", "labels": "labels.npy",
                    "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
          "methods": { "saliency": {}, "grad-cam": { "layer": "10" } },
          "shardSize": 2048, "batchSize": {{Batch}}, "output": "{{output}}" }
        """;
    var job = JobFile.Parse(json, folder);
    var (gen2, pause) = (GC.CollectionCount(2), GC.GetTotalPauseDuration());
    var watch = Stopwatch.StartNew();
    var status = await JobRunner.RunAsync(cluster.Grains, job);
    var seconds = watch.Elapsed.TotalSeconds;
    if (Environment.GetEnvironmentVariable("BENCH_GC") == "1")
        Console.Error.WriteLine($"job {seconds:F2} s: gen2 collections {GC.CollectionCount(2) - gen2}, GC pauses {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:F0} ms");
    if (status.State != JobState.Completed) throw new InvalidOperationException(status.Error);
    using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(Path.Combine(output, "manifest.json")));
    var computeSeconds = manifest.RootElement.GetProperty("shards").EnumerateArray().Sum(s => s.GetProperty("seconds").GetDouble());
    Directory.Delete(output, recursive: true);
    return (status.SamplesDone / seconds, status.SamplesDone / computeSeconds);
}

