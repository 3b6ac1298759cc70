using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using Microsoft.Extensions.Logging;

namespace ExplainCluster.Grains;

/// <summary>Plans a job's shards, hands them to shard grains, merges their partials and finishes the outputs.</summary>
public sealed partial class JobGrain(BlobLocator locator, IGrainFactory grains, ILogger<JobGrain> logger) : Grain, IJobGrain
{
    public static readonly ActivitySource Activities = new("ExplainCluster.Grains");

    // Finished shards, and their partials folded in shard order: the grain holds only the running sums and
    // the partials that arrived ahead of an earlier shard, not one partial per shard.
    private readonly Dictionary<int, ShardRun> _done = [];
    private readonly SummaryBuilder _summary = new();
    private readonly JobOutputs _outputs = new(locator);
    private JobSpec? _job;
    private ShardSpec[] _shards = [];
    private Manifest? _manifest;
    private Task<InputHashes>? _hashes;
    private JobState _state = JobState.NotStarted;
    private string? _error;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    async Task<JobStatus> IJobGrain.StartAsync(JobSpec job)
    {
        if (_state != JobState.NotStarted) return Status();
        using var activity = Activities.StartActivity("job.start");
        activity?.SetTag("explain.job", this.GetPrimaryKeyString());
        _job = job;
        _state = JobState.Running;
        try
        {
            var dataset = await Dataset.OpenAsync(job, locator);
            if (!await locator.Resolve(job.Model.Uri).ExistsAsync()) throw new ExplainException($"model {job.Model.Uri} does not exist");
            _shards = Dataset.Plan(dataset.Count, job.ShardSize);
            _manifest = _outputs.NewManifest(this.GetPrimaryKeyString(), job, dataset, _shards);
            await _outputs.WriteManifestAsync(job, _manifest);
            _hashes = Task.Run(() => _outputs.HashAsync(job));
        }
        catch (Exception e) when (e is ExplainException or IOException or Azure.RequestFailedException)
        {
            _state = JobState.Failed;
            _error = e.Message.Split('\n')[0];
            return Status();
        }
        LogStarted(logger, this.GetPrimaryKeyString(), _shards.Length);
        try
        {
            await Task.WhenAll(_shards.Select(s =>
                grains.GetGrain<IShardGrain>($"{this.GetPrimaryKeyString()}/{s.Index}").StartAsync(new ShardRequest(this.GetPrimaryKeyString(), job, s))));
        }
        catch (OrleansException e)
        {
            await FailAsync($"shards could not be started: {e.Message.Split('\n')[0]}");
        }
        return Status();
    }

    Task<JobStatus> IJobGrain.GetStatusAsync() => Task.FromResult(Status());

    async Task<JobStatus> IJobGrain.WaitForChangeAsync(TimeSpan maxWait)
    {
        if (_state is JobState.Running or JobState.Finalizing) await Task.WhenAny(_changed.Task, Task.Delay(maxWait));
        return Status();
    }

    /// <summary>Wakes every pending <see cref="IJobGrain.WaitForChangeAsync"/>.</summary>
    private void Changed()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }

    Task IJobGrain.ShardCompletedAsync(ShardPartial partial)
    {
        if (_state != JobState.Running || !_done.TryAdd(partial.ShardIndex, new ShardRun(partial.Count, partial.Silo, partial.Seconds)))
            return Task.CompletedTask;
        _summary.Add(partial);
        if (_done.Count == _shards.Length)
        {
            _state = JobState.Finalizing;
            _ = FinishAsync();
        }
        Changed();
        return Task.CompletedTask;
    }

    async Task IJobGrain.ShardFailedAsync(int shardIndex, string error)
    {
        if (_state != JobState.Running) return;
        await FailAsync(error);
    }

    private async Task FinishAsync()
    {
        using var activity = Activities.StartActivity("job.finish");
        try
        {
            // Writing and plotting are CPU and I/O work: keep them off the grain's scheduler.
            // _done no longer changes: shards reported after the last one are ignored once the job is finalizing.
            var (job, manifest, shards, hashes) = (_job!, _manifest!, _done, _hashes!);
            var summary = _summary.Build(job.Model.Classes);
            await Task.Run(async () => await _outputs.CompleteAsync(job, manifest, summary, shards, await hashes));
            _state = JobState.Completed;
            Changed();
            LogCompleted(logger, this.GetPrimaryKeyString());
        }
        catch (Exception e)
        {
            await FailAsync(e is ExplainException ? e.Message : $"finishing the job failed: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }

    private async Task FailAsync(string error)
    {
        _state = JobState.Failed;
        _error = error;
        Changed();
        LogFailed(logger, this.GetPrimaryKeyString(), error);
        try { await _outputs.FailAsync(_job!, _manifest!, error); }
        catch (ExplainException) { /* the output cannot be written; the status still carries the error */ }
    }

    private JobStatus Status() => new(
        _state, _shards.Length, _done.Count, _shards.Sum(s => s.Count), _done.Values.Sum(p => p.Count), _error,
        _job?.Output ?? "", [.. _done.OrderBy(p => p.Key).Select(p => p.Value.Silo)]);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started with {Shards} shards")]
    private static partial void LogStarted(ILogger logger, string jobId, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed")]
    private static partial void LogCompleted(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string jobId, string error);
}
