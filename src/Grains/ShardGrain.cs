using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>Runs one attempt at one shard off the Orleans scheduler and reports the outcome to its job.</summary>
[ModelHostPlacement]
public sealed partial class ShardGrain(
    ShardPipeline pipeline, ILocalSiloDetails silo, IGrainFactory grains, IOptions<ModelHostOptions> options, IOptions<RangeOptions> ranges,
    ILogger<ShardGrain> logger)
    : Grain, IShardGrain
{
    /// <summary>How long an outcome is offered to the job grain: long enough for it to reactivate elsewhere after its silo died.</summary>
    private static readonly TimeSpan ReportFor = TimeSpan.FromMinutes(2);

    private readonly CancellationTokenSource _cancel = new();
    private int _running;
    private Task _work = Task.CompletedTask;

    // When the outcome was handed to a range grain (explain attempts): the attempt counts as running a while longer
    // (RangeOptions.ReportGrace), until the range has handed it to the job.
    // Ticks (UTC) or 0; written by the attempt's thread, read on the grain's.
    private long _handedToRange;

    Task<SiloAddress> IShardGrain.StartAsync(ShardRequest request)
    {
        // The shard may take minutes: start it on the thread pool (its tensor work goes on to the model
        // host's threads) and return at once; the job grain hears back through its own methods.
        if (Interlocked.Exchange(ref _running, 1) == 0)
            _ = Task.Run(async () =>
            {
                try { await RunAsync(request, _cancel.Token); }
                finally { Volatile.Write(ref _running, 0); }
            });
        return Task.FromResult(silo.SiloAddress);
    }

    Task<bool> IShardGrain.IsRunningAsync() => Task.FromResult(Volatile.Read(ref _running) == 1
        || (Volatile.Read(ref _handedToRange) is var handed and > 0 && DateTime.UtcNow.Ticks - handed < ranges.Value.ReportGrace.Ticks));

    /// <summary>Stops the attempt and returns once it has stopped writing (at its next batch), or after 10 s.</summary>
    async Task IShardGrain.CancelAsync()
    {
        _cancel.Cancel();
        try { await _work.WaitAsync(TimeSpan.FromSeconds(10)); }
        catch (Exception) { /* stopped (cancelled or failed), or still stopping: the job goes on either way */ }
    }

    private async Task RunAsync(ShardRequest request, CancellationToken ct)
    {
        var job = grains.GetGrain<IJobGrain>(request.JobId);
        Func<Task> report;
        try
        {
            if (request.Phase == ShardPhase.Post)
            {
                var posting = pipeline.PostAsync(request.Job, request.Shard, request.Attempt, silo.SiloAddress.ToString(), request.Post!, request.Chosen, ct);
                _work = Stopped(posting);
                var results = await posting;
                report = () => job.ShardPostedAsync(results);
            }
            else if (request.Phase == ShardPhase.Tree)
            {
                var counting = pipeline.TreeAsync(request.Job, request.Shard, request.Attempt, silo.SiloAddress.ToString(), request.Tree!, request.ExplainAttempt, ct);
                _work = Stopped(counting);
                var counts = await counting;
                report = () => job.ShardTreeCountedAsync(counts);
            }
            else if (request.Phase == ShardPhase.Compare)
            {
                var comparing = pipeline.CompareAsync(request.Job, request.Shard, request.Attempt, silo.SiloAddress.ToString(), request.Baseline!, ct);
                _work = Stopped(comparing);
                var part = await comparing;
                report = () => job.ShardComparedAsync(part);
            }
            else if (request.Phase == ShardPhase.Concepts)
            {
                var training = pipeline.ConceptsAsync(request.Job, request.Shard, request.Attempt, silo.SiloAddress.ToString(), ct);
                _work = Stopped(training);
                var trained = await training;
                report = () => job.ShardConceptsTrainedAsync(trained);
            }
            else if (request.Phase == ShardPhase.Select)
            {
                var selecting = pipeline.SelectAsync(request.Job, request.Shard, request.Attempt, silo.SiloAddress.ToString(), ct);
                _work = Stopped(selecting);
                var candidates = await selecting;
                report = () => job.ShardSelectedAsync(candidates);
            }
            else
            {
                var work = pipeline.RunAsync(request.Job, request.Shard, request.Attempt, silo.SiloAddress.ToString(), ct, request.Chosen, request.ConceptsAttempt);
                _work = Stopped(work);
                var partial = await work;
                var outcome = partial.ApproxBytes > options.Value.MaxInlinePartialBytes ? partial.Reference() : partial;
                if (request.Range is { } range)
                {
                    // Its block's range grain hands it to the job with its neighbours' (RangeGrain).
                    report = async () =>
                    {
                        await grains.GetGrain<IRangeGrain>(range).ReportAsync(outcome, request.RangeShards);
                        Volatile.Write(ref _handedToRange, DateTime.UtcNow.Ticks);
                    };
                }
                else report = () => job.ShardCompletedAsync(outcome);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            LogCancelled(logger, request.JobId, request.Shard.Index, request.Attempt);
            return;
        }
        catch (Exception e)
        {
            // A data fault is deterministic and named by an ExplainException: one line, no stack trace, no retry.
            // The exception's type stays in the log (with --verbose on the CLI), never in the job's error.
            var dataFault = e is ExplainException;
            var message = dataFault ? e.Message : Redaction.Text($"shard {request.Shard.Index} failed: {FaultText.Line(e)}");
            if (dataFault) LogDataFault(logger, request.JobId, request.Shard.Index, message);
            else LogShardFailed(logger, e, request.JobId, request.Shard.Index);
            var retryable = IsRetryable(e);
            await ReportAsync(request, () => job.ShardFailedAsync(request.Shard.Index, request.Attempt, message, retryable, request.Phase), ct);
            return;
        }
        await ReportAsync(request, report, ct);
    }

    /// <summary>
    /// Completes when <paramref name="work"/> does, without its result: the activation keeps this task, and a
    /// wide model's partial statistics (tens of MB) must not live as long as the activation does.
    /// </summary>
    private static async Task Stopped(Task work)
    {
        try { await work; }
        catch (Exception) { /* RunAsync handles the outcome; this only says when the work has stopped */ }
    }

    /// <summary>
    /// Delivers an outcome to the job grain, retrying while its silo is being replaced; if it cannot, the
    /// job's lease check finds this attempt no longer running and starts another.
    /// </summary>
    private async Task ReportAsync(ShardRequest request, Func<Task> report, CancellationToken ct)
    {
        try
        {
            await ClusterCalls.RetryAsync(async () => { await report(); return true; }, ReportFor,
                e => LogReportRetry(logger, request.JobId, request.Shard.Index, e.GetType().Name), ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Cancelled while waiting to report: the job no longer wants this outcome.
        }
        catch (Exception e)
        {
            LogReportFailed(logger, e, request.JobId, request.Shard.Index);
        }
    }

    /// <summary>
    /// Whether a failed attempt is worth another: faults of the machine or the network, but not a storage fault that will not
    /// heal (<see cref="StorageFault"/>), and libtorch's report of a Scalar freed under it (<see cref="IsFreedScalar"/>);
    /// anything else would fail the same way again.
    /// </summary>
    public static bool IsRetryable(Exception e) =>
        (e is IOException or TimeoutException or OrleansException or HttpRequestException or System.Net.Sockets.SocketException
            or Azure.RequestFailedException or OutOfMemoryException && StorageFault.Cause(e) is null) || IsFreedScalar(e);

    /// <summary>
    /// libtorch's check of a Scalar's tag ("Expected false to be true", raised in c10/core/Scalar.h): TorchSharp 0.107 lets the
    /// finaliser free an implicitly converted Scalar while libtorch still reads it (<see cref="Engine.Methods.Scalars"/>). The hot
    /// paths pass rooted Scalars, but any other implicit one can still lose that race with the GC, rarely and never twice alike:
    /// a 1,000,000-row table job failed so once in kernel-shap's fit. Another attempt passes.
    /// </summary>
    public static bool IsFreedScalar(Exception e) =>
        e is System.Runtime.InteropServices.ExternalException && e.Message.Contains("c10/core/Scalar.h", StringComparison.Ordinal);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} shard {Shard}: {Error}")]
    private static partial void LogDataFault(ILogger logger, string jobId, int shard, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard} failed")]
    private static partial void LogShardFailed(ILogger logger, Exception error, string jobId, int shard);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} shard {Shard} attempt {Attempt} cancelled")]
    private static partial void LogCancelled(ILogger logger, string jobId, int shard, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} shard {Shard}: the job did not take the outcome ({Error}); trying again")]
    private static partial void LogReportRetry(ILogger logger, string jobId, int shard, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} shard {Shard}: could not report the outcome to the job")]
    private static partial void LogReportFailed(ILogger logger, Exception error, string jobId, int shard);
}
