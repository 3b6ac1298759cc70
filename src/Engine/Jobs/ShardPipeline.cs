using ExplainCluster.Contracts;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// One shard end to end: ranged read, tensor work on the model host, outputs written, partial returned.
/// At most one shard per host thread plus one more (reading or writing) is admitted at a time, so a
/// silo holds a bounded number of shards in memory however many a job hands it.
/// </summary>
public sealed class ShardPipeline(ModelHost host, BlobLocator locator, LocationPolicy? policy = null)
{
    private readonly SemaphoreSlim _admission = new(host.ShardCapacity);
    private int _inFlight;
    private int _peakInFlight;

    /// <summary>The most shards this pipeline has held at once.</summary>
    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    /// <summary>
    /// Computes attempt <paramref name="attempt"/> at <paramref name="shard"/> and stages its files under
    /// <see cref="OutputLayout.Attempt"/>; the job moves the accepted attempt's files into place when it completes.
    /// </summary>
    public async Task<ShardPartial> RunAsync(JobSpec job, ShardSpec shard, int attempt, string silo, CancellationToken ct = default)
    {
        await _admission.WaitAsync(ct);
        var tag = new KeyValuePair<string, object?>("silo", silo);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ExplainMetrics.InFlight.Add(1, tag);
        var now = Interlocked.Increment(ref _inFlight);
        for (var peak = PeakInFlight; now > peak; peak = PeakInFlight) Interlocked.CompareExchange(ref _peakInFlight, now, peak);
        try
        {
            var partial = await RunAdmittedAsync(job, shard, attempt, silo, ct);
            ExplainMetrics.Samples.Add(partial.Count, tag);
            ExplainMetrics.ShardDuration.Record(watch.Elapsed.TotalSeconds, tag);
            return partial;
        }
        finally
        {
            ExplainMetrics.InFlight.Add(-1, tag);
            Interlocked.Decrement(ref _inFlight);
            _admission.Release();
        }
    }

    private async Task<ShardPartial> RunAdmittedAsync(JobSpec job, ShardSpec shard, int attempt, string silo, CancellationToken ct)
    {
        using var activity = ShardExplainer.Activities.StartActivity("shard.run");
        activity?.SetTag("explain.shard", shard.Index);
        activity?.SetTag("explain.silo", silo);
        activity?.SetTag("explain.attempt", attempt);
        (policy ?? LocationPolicy.Unrestricted).Check(job); // the job grain checked it too; a shard trusts no caller
        var model = await host.GetModelAsync(job.Model.Uri, ct);
        var dataset = await Dataset.OpenAsync(job, locator, ct);
        var data = await dataset.ReadAsync(shard, ct);
        // Segmentation needs no tensors: it runs on the thread pool, before the shard reaches the model host.
        if (JobSegments.For(job) is { } segments)
            data = data with { Segments = await Task.Run(() => JobSegments.Compute(segments, job.Data.Preprocess, data), ct) };
        var parent = System.Diagnostics.Activity.Current;
        var result = await host.RunAsync(() =>
        {
            System.Diagnostics.Activity.Current = parent;
            return ShardExplainer.Compute(model, job, data, ct);
        });
        ct.ThrowIfCancellationRequested();
        var (partial, scalars) = ShardStatistics.Build(shard, result, data, job.Data.Preprocess.Scale, silo);
        var output = locator.Resolve(job.Output);
        await ShardWriter.WriteAsync(output.Child(OutputLayout.Attempt(shard.Index, attempt)), shard.Index, result, scalars, ct);
        partial = partial with { Attempt = attempt };
        // Last: a partial on disk means the attempt's files are all there.
        await output.Child(OutputLayout.Partial(shard.Index, attempt)).WriteAsync(PartialCodec.Encode(partial), ct);
        return partial;
    }
}
