using ExplainCluster.Contracts;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// One shard end to end: ranged read, tensor work on the model host, outputs written, partial returned.
/// At most one shard per host thread plus one more (reading or writing) is admitted at a time, so a
/// silo holds a bounded number of shards in memory however many a job hands it. A watchdog fails a shard one
/// of whose batches runs longer than <see cref="Limits.BatchTimeout"/>, and the host replaces the stuck thread.
/// </summary>
public sealed class ShardPipeline(ModelHost host, BlobLocator locator, LocationPolicy? policy = null, Limits? limits = null)
{
    private readonly Limits _limits = limits ?? new Limits();
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
        var clock = new BatchClock();
        var work = host.RunAsync(() =>
        {
            System.Diagnostics.Activity.Current = parent;
            clock.Tick(); // the shard's set-up counts towards its first batch
            try { return ShardExplainer.Compute(model, job, data, ct, clock); }
            finally { clock.Stop(); }
        });
        var result = await WatchAsync(work, clock, model.Location, silo);
        ct.ThrowIfCancellationRequested();
        var (partial, scalars) = ShardStatistics.Build(shard, result, data, job.Data.Preprocess.Scale, silo);
        var output = locator.Resolve(job.Output);
        await ShardWriter.WriteAsync(output.Child(OutputLayout.Attempt(shard.Index, attempt)), shard.Index, result, scalars, ct);
        partial = partial with { Attempt = attempt };
        // Last: a partial on disk means the attempt's files are all there.
        await output.Child(OutputLayout.Partial(shard.Index, attempt)).WriteAsync(PartialCodec.Encode(partial), ct);
        return partial;
    }

    /// <summary>
    /// The result of <paramref name="work"/>, unless one of its batches runs longer than the limit first: then the
    /// host gives the stuck thread up and starts another, the shard fails with one line (no retry: it would hang
    /// again), and whatever the work returns later is discarded.
    /// </summary>
    private async Task<ShardResult> WatchAsync(Task<ShardResult> work, BatchClock clock, string model, string silo)
    {
        using var done = new CancellationTokenSource();
        // On the thread pool's timers: neither a model host thread nor the Orleans scheduler waits for it.
        var watchdog = Task.Run(async () =>
        {
            while (clock.Check(_limits.BatchTimeout, stuck => host.Abandon(stuck)) is { } wait) await Task.Delay(wait, done.Token);
        }, done.Token);
        if (await Task.WhenAny(work, watchdog) == work)
        {
            await done.CancelAsync();
            return await work;
        }
        await watchdog; // a fault of the watchdog itself is not a timeout
        ExplainMetrics.BatchTimeouts.Add(1, new KeyValuePair<string, object?>("silo", silo));
        _ = work.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        throw _limits.BatchTimedOut(model);
    }
}
