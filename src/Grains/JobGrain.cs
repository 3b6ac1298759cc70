using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Views;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>
/// Plans a job's shards, hands each to a shard grain as a numbered attempt, merges the partials of the
/// attempts it accepts and finishes the outputs. A shard whose silo leaves the cluster runs again on a
/// live one (checked every <see cref="LeaseCheck"/> against membership); results of superseded attempts are ignored.
/// The plan and every shard's attempts are persisted ("jobs" grain storage), and a reminder wakes the job
/// after its silo is lost, so it carries on wherever it reactivates without recomputing finished shards.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", JobGrain.Storage)] IPersistentState<JobRecord> record,
    BlobLocator locator, LocationPolicy policy, Limits limits, IGrainFactory grains, IClusterMembershipService membership, Workers workers, ILogger<JobGrain> logger)
    : Grain, IJobGrain, IRemindable
{
    /// <summary>The grain storage that holds job records: Redis on a real cluster, memory when embedded.</summary>
    public const string Storage = "jobs";

    private const string Resume = "resume";

    public static readonly ActivitySource Activities = new("ExplainCluster.Grains");

    /// <summary>How often running attempts are checked against membership: adds at most this to the time a lost shard waits.</summary>
    public static readonly TimeSpan LeaseCheck = TimeSpan.FromSeconds(1);

    // Partials are folded in shard order: the grain holds only the running sums and the partials that
    // arrived ahead of an earlier shard, not one partial per shard.
    private readonly SummaryBuilder _summary = new();
    private readonly JobOutputs _outputs = new(locator);
    private ShardBook _book = new([]);
    private IGrainReminder? _resume;
    private JobSpec? _job;
    private Manifest? _manifest;
    private Task<InputHashes>? _hashes;
    private IGrainTimer? _leases;
    private JobState _state = JobState.NotStarted;
    private string? _error;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Stratified subsets: a selection pass over every shard comes first (_book holds its attempts while
    // _selecting), then the explain pass with the chosen samples (SampleSelection).
    private Engine.Methods.Subset[] _subsets = [];
    private bool _selecting;
    private StratumCandidate[][]? _candidates;
    private long[][]? _chosen;

    // The post pass (pruning's curve, maximisation): once every shard is explained, _book holds the post attempts
    // and _explained the explain pass's; the post pass is not persisted: a resumed job plans and runs it again.
    private ShardBook? _explained;
    private PostWork[]? _postWork;

    private string Id => this.GetPrimaryKeyString();

    private ShardDispatcher? _dispatcherOrNull;

    private ShardPhase Phase => _selecting ? ShardPhase.Select : _explained is not null ? ShardPhase.Post : ShardPhase.Explain;

    private ShardDispatcher Dispatcher => _dispatcherOrNull ??= new ShardDispatcher(Id, grains, workers, membership, Phase, _chosen, _postWork);

    /// <summary>A job that was running when its grain was lost picks up where its record says it was.</summary>
    public override async Task OnActivateAsync(CancellationToken ct)
    {
        var saved = record.State;
        (_job, _state, _error, _book) = (saved.Job, saved.State, saved.Error, new ShardBook(saved.Shards));
        (_selecting, _candidates, _chosen) = (saved.Selecting, saved.Candidates, saved.Chosen);
        if (_job is null || IsOver()) return;
        try
        {
            _manifest = await _outputs.ReadManifestAsync(_job, ct);
            if (_manifest.Status == Manifest.Completed)
            {
                // The old activation finished the outputs but was lost before it could record so.
                _state = JobState.Completed;
                await SaveAsync();
                await StopResumingAsync();
                return;
            }
            _subsets = SampleSelection.Subsets(_job);
            if (!_selecting)
                foreach (var (shard, run) in _book.Done) _summary.Add(await _outputs.ReadPartialAsync(_job, shard, run.Attempt, ct));
        }
        catch (Exception e) when (e is IOException or Azure.RequestFailedException or System.Text.Json.JsonException or ExplainException)
        {
            await FailAsync($"the job cannot resume: {e.Message.Split('\n')[0]}");
            return;
        }
        _hashes = Task.Run(() => _outputs.HashAsync(_job));
        LogResumed(logger, Id, _book.DoneCount, _book.Shards.Length);
        if (_state == JobState.Finalizing)
        {
            _ = FinishAsync();
            return;
        }
        StartLeases();
        if (!_selecting && _book.Complete)
        {
            // Every shard was explained; the post pass (if the job has one) starts again from its plan.
            await AfterExplanationsAsync();
            return;
        }
        // Attempts started but never recorded as placed were lost with the old activation: start them again.
        foreach (var shard in _book.Lost(_ => false, unplaced: true))
        {
            Dispatcher.Because(shard, "unplaced");
            _book.Wait(shard);
        }
        await DispatchAsync();
        await SaveAsync();
    }

    Task IRemindable.ReceiveReminder(string reminderName, TickStatus status) =>
        // Arriving is the point: it activated this grain (see OnActivateAsync). A job that has ended needs it no more.
        IsOver() ? StopResumingAsync() : Task.CompletedTask;

    private bool IsOver() => _state is not (JobState.Running or JobState.Finalizing);

    async Task<JobStatus> IJobGrain.StartAsync(JobSpec job)
    {
        if (_state != JobState.NotStarted) return Status();
        using var activity = Activities.StartActivity("job.start");
        activity?.SetTag("explain.job", Id);
        _job = job;
        _state = JobState.Running;
        try
        {
            policy.Check(job);
            var dataset = await Dataset.OpenAsync(job, locator);
            var model = locator.Resolve(job.Model.Uri);
            if (!await model.ExistsAsync()) throw new ExplainException($"model {job.Model.Uri} does not exist");
            limits.Check(job, dataset, await model.LengthAsync());
            _book = ShardBook.Plan(Dataset.Plan(dataset.Count, job.ShardSize));
            _subsets = SampleSelection.Subsets(job);
            _selecting = _subsets.Length > 0;
            _manifest = _outputs.NewManifest(Id, job, dataset, _book.Shards);
            await _outputs.ClaimAsync(job, _manifest, async other =>
                other != Id && (await grains.GetGrain<IJobGrain>(other).GetStatusAsync()).State is JobState.Running or JobState.Finalizing);
            _hashes = Task.Run(() => _outputs.HashAsync(job));
        }
        catch (Exception e) when (e is ExplainException or IOException or Azure.RequestFailedException)
        {
            _state = JobState.Failed;
            _error = Redaction.Text(e.Message.Split('\n')[0]);
            await SaveAsync();
            return Status();
        }
        LogStarted(logger, Id, _book.Shards.Length);
        await SaveAsync();
        _resume = await this.RegisterOrUpdateReminder(Resume, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        StartLeases();
        await DispatchAsync();
        await SaveAsync();
        return Status();
    }

    Task<JobStatus> IJobGrain.GetStatusAsync() => Task.FromResult(Status());

    async Task<JobStatus> IJobGrain.WaitForChangeAsync(TimeSpan maxWait)
    {
        if (_state is JobState.Running or JobState.Finalizing) await Task.WhenAny(_changed.Task, Task.Delay(maxWait));
        return Status();
    }

    async Task<JobStatus> IJobGrain.CancelAsync()
    {
        if (_state != JobState.Running) return Status();
        _state = JobState.Cancelled;
        StopLeases();
        await Dispatcher.StopAsync(_book);
        LogCancelled(logger, Id);
        await SaveAsync();
        Changed();
        await EndOutputsAsync(null);
        return Status();
    }

    async Task IJobGrain.ShardCompletedAsync(ShardPartial partial)
    {
        if (partial.Staged && _state == JobState.Running && !_selecting && _explained is null && _book.IsCurrent(partial.ShardIndex, partial.Attempt))
        {
            // Sent by reference: the statistics are in the attempt's staged partial.bin (read off the scheduler).
            var (job, reference) = (_job!, partial);
            try { partial = await Task.Run(() => _outputs.ReadPartialAsync(job, reference.ShardIndex, reference.Attempt)); }
            catch (Exception e) when (e is IOException or Azure.RequestFailedException or System.Text.Json.JsonException)
            {
                await RetryAsync(reference.ShardIndex, $"shard {reference.ShardIndex}: its partial statistics cannot be read: {e.Message.Split('\n')[0]}");
                return;
            }
        }
        if (_state != JobState.Running || _selecting || _explained is not null || !_book.Accept(partial))
        {
            if (_state == JobState.Running) LogSuperseded(logger, Id, partial.ShardIndex, partial.Attempt);
            return;
        }
        _summary.Add(partial);
        if (_book.Complete)
        {
            await AfterExplanationsAsync();
            return;
        }
        await DispatchAsync();
        await SaveAsync();
        Changed();
    }

    /// <summary>Every shard is explained: the post pass if the job has one (<see cref="PostPlan"/>), else the outputs.</summary>
    private async Task AfterExplanationsAsync()
    {
        // The plan merges (the embedding's PCA and label vote): CPU work, off the scheduler.
        var (job, attempts) = (_job!, _book.Done.OrderBy(p => p.Key).Select(p => p.Value.Attempt).ToArray());
        _postWork = await Task.Run(() => PostPlan.For(job, _summary, attempts));
        if (_postWork is not null)
        {
            (_explained, _book, _dispatcherOrNull) = (_book, ShardBook.Plan(_book.Shards), null);
            LogPosting(logger, Id);
            await DispatchAsync();
            await SaveAsync();
            Changed();
            return;
        }
        await FinalizeAsync();
    }

    private async Task FinalizeAsync()
    {
        _state = JobState.Finalizing;
        StopLeases();
        await SaveAsync();
        _ = FinishAsync();
        Changed();
    }

    async Task IJobGrain.ShardPostedAsync(PostPartial partial)
    {
        if (_state != JobState.Running || _explained is null || !_book.Accept(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds))
        {
            if (_state == JobState.Running) LogSuperseded(logger, Id, partial.ShardIndex, partial.Attempt);
            return;
        }
        _summary.AddPost(partial);
        if (_book.Complete)
        {
            (_book, _explained, _postWork, _dispatcherOrNull) = (_explained, null, null, null);
            await FinalizeAsync();
            return;
        }
        await DispatchAsync();
        Changed();
    }

    async Task IJobGrain.ShardSelectedAsync(SelectionPartial partial)
    {
        if (_state != JobState.Running || !_selecting || !_book.Accept(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds))
        {
            if (_state == JobState.Running) LogSuperseded(logger, Id, partial.ShardIndex, partial.Attempt);
            return;
        }
        if (partial.Subsets.Length != _subsets.Length)
        {
            await FailAsync($"shard {partial.ShardIndex}: its selection has {partial.Subsets.Length} subsets, the job {_subsets.Length}");
            return;
        }
        _candidates = SampleSelection.Merge(_candidates, partial.Subsets, _subsets);
        if (_book.Complete)
        {
            // Every shard has offered its candidates: the choice is final, and the explain pass starts afresh.
            _chosen = SampleSelection.Chosen(_candidates, _subsets);
            (_candidates, _selecting, _dispatcherOrNull) = (null, false, null);
            _book = ShardBook.Plan(_book.Shards);
            LogSelected(logger, Id, _chosen.Sum(c => c.Length));
        }
        await DispatchAsync();
        await SaveAsync();
        Changed();
    }

    async Task IJobGrain.ShardFailedAsync(int shardIndex, int attempt, string error, bool retryable, ShardPhase phase)
    {
        // Each pass numbers its attempts from 1: only a failure of the current pass's current attempt counts.
        if (_state != JobState.Running || phase != Phase || !_book.IsCurrent(shardIndex, attempt)) return;
        if (!retryable) await FailAsync(error);
        else await RetryAsync(shardIndex, error);
    }

    /// <summary>Hands waiting shards to silos with room (<see cref="ShardDispatcher.DispatchAsync"/>); a start that fails is a fault.</summary>
    private async Task DispatchAsync()
    {
        if (_state != JobState.Running) return;
        foreach (var (shard, error) in await Dispatcher.DispatchAsync(_book, _job!)) await GiveUpOrWaitAsync(shard, error);
    }

    /// <summary>An infrastructure fault: the shard waits for another attempt, unless it has had them all.</summary>
    private async Task RetryAsync(int shard, string error)
    {
        if (_state != JobState.Running) return;
        await GiveUpOrWaitAsync(shard, error);
        await DispatchAsync();
        await SaveAsync();
        Changed();
    }

    private async Task GiveUpOrWaitAsync(int shard, string error)
    {
        if (_state != JobState.Running) return;
        if (_book.AttemptsOf(shard) >= ShardBook.MaxAttempts)
        {
            await FailAsync($"{error} (after {ShardBook.MaxAttempts} attempts)");
            return;
        }
        LogRetry(logger, Id, shard, error);
        Dispatcher.Because(shard, "fault");
        _book.Wait(shard);
    }

    /// <summary>
    /// Every <see cref="LeaseCheck"/>: shards whose attempt was lost (<see cref="ShardDispatcher.FindLostAsync"/>)
    /// wait for a new attempt; then waiting shards go to silos with room, including silos that just joined.
    /// </summary>
    private async Task CheckLeasesAsync(CancellationToken ct)
    {
        if (_state != JobState.Running) return;
        var lost = await Dispatcher.FindLostAsync(_book, ct);
        foreach (var shard in lost)
        {
            LogLost(logger, Id, shard);
            Dispatcher.Because(shard, "lost");
            _book.Wait(shard);
        }
        var waiting = _book.Waiting().Count();
        await DispatchAsync();
        if (lost.Length > 0 || _book.Waiting().Count() != waiting)
        {
            await SaveAsync();
            Changed();
        }
    }

    private async Task FinishAsync()
    {
        using var activity = Activities.StartActivity("job.finish");
        try
        {
            // Moving files, writing and plotting are I/O and CPU work: keep them off the grain's scheduler.
            // The book no longer changes: shards reported after the last one are ignored once the job is finalizing.
            var (job, manifest, shards, hashes) = (_job!, _manifest!, _book.Done, _hashes!);
            if (ViewsOptions.Find(job, ViewsOptions.Embedding) is { } embedding)
                (_summary.EmbeddingDims, _summary.EmbeddingNeighbours) = (ViewsOptions.ReadEmbedding(embedding).Dims, ViewsOptions.ReadEmbedding(embedding).K);
            // Merging is CPU work too (the PCAs, the label vote): the summary builder no longer changes either.
            var summary = await Task.Run(() => _summary.Build(job.Model.Classes));
            await Task.Run(async () => await _outputs.CompleteAsync(job, manifest, summary, shards, await hashes));
            _state = JobState.Completed;
            await SaveAsync();
            await StopResumingAsync();
            Changed();
            LogCompleted(logger, Id);
        }
        catch (Exception e)
        {
            await FailAsync(e is ExplainException ? e.Message : $"finishing the job failed: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }

    private async Task FailAsync(string error)
    {
        _state = JobState.Failed;
        _error = Redaction.Text(error);
        StopLeases();
        await Dispatcher.StopAsync(_book);
        await SaveAsync();
        Changed();
        LogFailed(logger, Id, error);
        await EndOutputsAsync(error);
    }

    private async Task EndOutputsAsync(string? error)
    {
        await StopResumingAsync();
        if (_manifest is null) return;
        try { await _outputs.EndAsync(_job!, _manifest, error); }
        catch (Exception e) when (e is ExplainException or IOException or Azure.RequestFailedException) { /* the output cannot be written; the status still carries the outcome */ }
    }

    private async Task SaveAsync()
    {
        (record.State.Job, record.State.State, record.State.Error, record.State.Shards) = (_job, _state, _error, (_explained ?? _book).Records);
        (record.State.Selecting, record.State.Candidates, record.State.Chosen) = (_selecting, _candidates, _chosen);
        await record.WriteStateAsync();
    }

    private async Task StopResumingAsync()
    {
        try
        {
            _resume ??= await this.GetReminder(Resume);
            if (_resume is not null) await this.UnregisterReminder(_resume);
            _resume = null;
        }
        catch (Exception e) when (e is OrleansException or TimeoutException) { /* it fires once more and finds the job over */ }
    }

    private void StartLeases() =>
        _leases = this.RegisterGrainTimer(CheckLeasesAsync, new GrainTimerCreationOptions(LeaseCheck, LeaseCheck) { KeepAlive = true });

    /// <summary>Wakes every pending <see cref="IJobGrain.WaitForChangeAsync"/>.</summary>
    private void Changed()
    {
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.SetResult();
    }

    private void StopLeases()
    {
        _leases?.Dispose();
        _leases = null;
    }

    private JobStatus Status() => Status(_explained ?? _book);

    private JobStatus Status(ShardBook explain) => new(
        _state, explain.Shards.Length, _selecting ? 0 : explain.DoneCount, explain.Shards.Sum(s => s.Count), _selecting ? 0 : explain.SamplesDone, _error,
        Redaction.Location(_job?.Output ?? ""), [.. explain.Done.OrderBy(p => p.Key).Select(p => p.Value.Silo)], explain.Attempts, _job?.Name ?? "",
        _state == JobState.Running && _book.Waiting().Any() && workers.Now().Length == 0
            ? "no model-host silo is active (ModelHost:Enabled=true): the job's shards wait for one to join" : null,
        _selecting ? $"choosing the samples of stratified subsets (a forward pass): {_book.DoneCount} of {_book.Shards.Length} shards"
            : _explained is not null ? $"pruning curve and maximisation: {_book.DoneCount} of {_book.Shards.Length} shards" : null);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} started with {Shards} shards")]
    private static partial void LogStarted(ILogger logger, string jobId, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} resumed: {Done} of {Shards} shards were done")]
    private static partial void LogResumed(ILogger logger, string jobId, int done, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: stratified subsets chose {Samples} samples; explaining")]
    private static partial void LogSelected(ILogger logger, string jobId, int samples);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId}: every shard explained; the post pass (pruning curve, maximisation) starts")]
    private static partial void LogPosting(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} completed")]
    private static partial void LogCompleted(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} cancelled")]
    private static partial void LogCancelled(ILogger logger, string jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string jobId, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard}: its silo left the cluster; running it again")]
    private static partial void LogLost(ILogger logger, string jobId, int shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard}: {Error}; running it again")]
    private static partial void LogRetry(ILogger logger, string jobId, int shard, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "Job {JobId} shard {Shard}: attempt {Attempt} was superseded; its result is ignored")]
    private static partial void LogSuperseded(ILogger logger, string jobId, int shard, int attempt);
}
