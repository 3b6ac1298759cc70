using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains.Passes;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Storage;

namespace ExplainCluster.Grains;

/// <summary>
/// Coordinates a job through its passes (<see cref="JobPass"/>: select, explain, post), then finalizes it. Each pass plans
/// its shards, and the grain hands each to a shard grain as a numbered attempt; a shard whose silo leaves the cluster runs
/// again on a live one (checked every <see cref="LeaseCheck"/> against membership), and results of superseded attempts are
/// ignored. The job's state is its record ("jobs" grain storage), written as it changes; a reminder wakes the job after its
/// silo is lost, so it carries on in the same pass wherever it reactivates, without recomputing finished shards.
/// </summary>
public sealed partial class JobGrain(
    [PersistentState("job", JobGrain.Storage)] IPersistentState<JobRecord> record,
    [FromKeyedServices(JobGrain.Storage)] IGrainStorage storage, Serializer serializer,
    BlobLocator locator, LocationPolicy policy, Limits limits, IGrainFactory grains, IClusterMembershipService membership, Workers workers,
    IOptions<RangeOptions> ranges, ILogger<JobGrain> logger)
    : Grain, IJobGrain, IRemindable
{
    /// <summary>The grain storage that holds job records: Redis on a real cluster, memory when embedded.</summary>
    public const string Storage = "jobs";

    private const string Resume = "resume";

    public static readonly ActivitySource Activities = new("ExplainCluster.Grains");

    /// <summary>How often running attempts are checked against membership: adds at most this to the time a lost shard waits.</summary>
    public static readonly TimeSpan LeaseCheck = TimeSpan.FromSeconds(1);

    // Rebuilt on activation from the record: what the passes merged (JobContext), the record's pass, its dispatcher.
    private JobContext? _job;
    private IJobPass? _pass;
    private ShardDispatcher? _dispatcher;
    private IGrainReminder? _resume;
    private IGrainTimer? _leases;
    private readonly ChangeSignal _changed = new();
    private ShardJournal? _journal;

    // Messages that brought this activation explain outcomes, and the outcomes they brought (logged as the pass ends).
    private int _outcomeMessages, _outcomes;

    // Saves run one at a time (a block's and the record's etags change with each write); a save may be queued (SaveSoon).
    private readonly SemaphoreSlim _saving = new(1, 1);
    private bool _saveQueued;

    // The record as last written: a save that changed only shards' records (most do) writes their blocks, not the record.
    private byte[]? _written;

    // While the job fails or is cancelled (EndAsync): done once its outputs say so.
    private Task? _ending;

    private JobRecord State => record.State;

    private string Id => this.GetPrimaryKeyString();

    private ShardJournal Journal => _journal ??= new ShardJournal(storage, Id);

    private ShardDispatcher Dispatcher => _dispatcher ??= new ShardDispatcher(Id, grains, workers, membership, _pass!, StartFailedAsync, logger, ranges.Value);

    /// <summary>A job that was running when its grain was lost picks up where its record says it was (<see cref="JobContext.ResumeAsync"/>).</summary>
    public override async Task OnActivateAsync(CancellationToken ct)
    {
        if (State.Job is null || State.IsOver) return;
        _job = new JobContext(State, locator);
        try
        {
            await Journal.LoadAsync(State);
            _pass = await _job.ResumeAsync(ct);
        }
        catch (Exception e) when (e is IOException or Azure.RequestFailedException or System.Text.Json.JsonException or ExplainException)
        {
            await FailAsync($"the job cannot resume: {e.Message.Split('\n')[0]}");
            return;
        }
        if (_pass is null)
        {
            await CompletedAsync();
            return;
        }
        LogResumed(logger, Id, State.Pass, State.Book.DoneCount, State.Shards.Length);
        if (State.State == JobState.Finalizing)
        {
            _ = FinishAsync();
            return;
        }
        StartLeases();
        if (State.Book.Complete)
        {
            await AdvanceAsync();
            return;
        }
        // Attempts started but never recorded as placed were lost with the old activation: start them again.
        foreach (var shard in State.Book.Lost(_ => false, unplaced: true)) Dispatcher.Requeue(State.Book, shard, "unplaced");
        await ChangedAsync();
    }

    Task IRemindable.ReceiveReminder(string reminderName, TickStatus status) =>
        // Arriving is the point: it activated this grain (see OnActivateAsync). A job that has ended needs it no more.
        State.IsOver ? StopResumingAsync() : Task.CompletedTask;

    async Task<JobStatus> IJobGrain.StartAsync(JobSpec job)
    {
        if (State.State != JobState.NotStarted) return Status();
        using var activity = Activities.StartActivity("job.start");
        activity?.SetTag("explain.job", Id);
        (State.Job, State.State, _job) = (job, JobState.Running, new JobContext(State, locator));
        IJobPass first;
        try
        {
            first = await _job.StartAsync(Id, policy, limits, async other =>
                other != Id && (await grains.GetGrain<IJobGrain>(other).GetStatusAsync()).State is JobState.Running or JobState.Finalizing);
        }
        catch (Exception e) when (e is ExplainException or IOException or UnauthorizedAccessException or Azure.RequestFailedException)
        {
            (State.State, State.Error) = (JobState.Failed, Redaction.Text(e.Message.Split('\n')[0]));
            await SaveAsync();
            return Status();
        }
        LogStarted(logger, Id, State.Shards.Length);
        await SaveAsync();
        _resume = await this.RegisterOrUpdateReminder(Resume, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        StartLeases();
        await BeginAsync(first);
        return Status();
    }

    Task<JobStatus> IJobGrain.GetStatusAsync() => Task.FromResult(Status());

    async Task<JobStatus> IJobGrain.WaitForChangeAsync(TimeSpan maxWait)
    {
        if (!State.IsOver) await _changed.WaitAsync(maxWait);
        // A job that has just failed or been cancelled answers once its staging is gone and its manifest says so: an
        // embedded run (explain run) that stops its silo on this answer leaves nothing half done.
        if (_ending is { } ending) await ending;
        return Status();
    }

    async Task<JobStatus> IJobGrain.CancelAsync()
    {
        if (State.State == JobState.Running) await EndAsync(JobState.Cancelled, null);
        return Status();
    }

    Task IJobGrain.ShardSelectedAsync(SelectionPartial partial) => AcceptAsync(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds, partial);

    Task IJobGrain.ShardCompletedAsync(ShardPartial partial)
    {
        (_outcomeMessages, _outcomes) = (_outcomeMessages + 1, _outcomes + 1);
        return AcceptAsync(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds, partial);
    }

    Task IJobGrain.RangeReportedAsync(ShardPartial[] outcomes)
    {
        (_outcomeMessages, _outcomes) = (_outcomeMessages + 1, _outcomes + outcomes.Length);
        return AcceptAllAsync(outcomes);
    }

    Task IJobGrain.ShardPostedAsync(PostPartial partial) => AcceptAsync(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds, partial);

    Task IJobGrain.ShardTreeCountedAsync(TreeLevelPartial partial) => AcceptAsync(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds, partial);

    Task IJobGrain.ShardComparedAsync(ComparedPartial partial) => AcceptAsync(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds, partial);

    Task IJobGrain.ShardConceptsTrainedAsync(ConceptsTrained trained) => AcceptAsync(trained.ShardIndex, trained.Attempt, trained.Silo, trained.Seconds, trained);

    async Task IJobGrain.ShardFailedAsync(int shardIndex, int attempt, string error, bool retryable, ShardPhase phase)
    {
        // Each pass numbers its attempts from 1: only a failure of the current pass's current attempt counts.
        if (State.State != JobState.Running || phase != _pass?.Phase || !State.Book.IsCurrent(shardIndex, attempt)) return;
        if (!retryable) await FailAsync(error);
        else await RetryAsync(shardIndex, error);
    }

    /// <summary>An attempt's result, merged by the current pass if it is the shard's current attempt of that pass; else ignored.</summary>
    private async Task AcceptAsync<T>(int shard, int attempt, string silo, double seconds, T result)
    {
        if (await MergeAsync(shard, attempt, silo, seconds, result)) await MergedAsync();
    }

    /// <summary>
    /// Explain outcomes handed up together (by a range grain, or taken from their staging): each merged as
    /// <see cref="AcceptAsync"/> merges one, and what follows a merge (<see cref="MergedAsync"/>) once for them all.
    /// </summary>
    private async Task AcceptAllAsync(ShardPartial[] outcomes)
    {
        var merged = false;
        foreach (var p in outcomes)
        {
            merged |= await MergeAsync(p.ShardIndex, p.Attempt, p.Silo, p.Seconds, p);
            if (State.State != JobState.Running) return;
        }
        if (merged) await MergedAsync();
    }

    /// <summary>Merges an attempt's result if it is current (<see cref="AcceptAsync"/>); true when it was merged and the job runs on.</summary>
    private async Task<bool> MergeAsync<T>(int shard, int attempt, string silo, double seconds, T result)
    {
        var pass = _pass as IJobPass<T>;
        if (State.State == JobState.Running && pass is not null && State.Book.IsCurrent(shard, attempt))
        {
            try { result = await pass.ReceiveAsync(result); }
            catch (Exception e) when (e is IOException or Azure.RequestFailedException or System.Text.Json.JsonException)
            {
                await RetryAsync(shard, $"shard {shard}: its partial statistics cannot be read: {e.Message.Split('\n')[0]}");
                return false;
            }
        }
        if (State.State != JobState.Running || pass is null || pass != _pass || !State.Book.Accept(shard, attempt, silo, seconds))
        {
            if (State.State == JobState.Running) LogSuperseded(logger, Id, shard, attempt);
            return false;
        }
        string? error;
        // A partial that does not fold into the others is a fault of this job, not of a hand-up: the job fails saying so. Thrown
        // to the range grain that handed it up, it was held and handed up again for ever, and the shard, accepted above but
        // never merged, was "missing" when the job finished.
        try { error = pass.Merge(result); }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            error = $"shard {shard}: its partial statistics do not merge with the other shards' ({e.Message})";
        }
        if (error is null) return true;
        await FailAsync(error);
        return false;
    }

    /// <summary>After a merge: the next pass when every shard is in, else waiting shards start and the change is recorded.</summary>
    private async Task MergedAsync()
    {
        if (State.Book.Complete) await AdvanceAsync();
        else
        {
            // The shard's record is written after this turn, with whatever else changes meanwhile (SaveSoon): a job lost
            // before that write runs the shard again (its lease check finds the attempt no longer running), and
            // completions do not wait on Redis one by one.
            Dispatch();
            SaveSoon();
            _changed.Raise();
        }
    }

    /// <summary>Every shard of the current pass is merged: the next pass with work for the job begins, or the job finalizes.</summary>
    private async Task AdvanceAsync()
    {
        if (_pass is ExplainPass) LogOutcomeMessages(logger, Id, _outcomes, _outcomeMessages);
        if (await _job!.AdvanceAsync(_pass!) is { } next)
        {
            await BeginAsync(next);
            return;
        }
        StopLeases();
        await SaveAsync();
        _ = FinishAsync();
        _changed.Raise();
    }

    private async Task BeginAsync(IJobPass pass)
    {
        (_pass, _dispatcher) = (pass, null);
        LogPass(logger, Id, pass.Kind, State.Shards.Length);
        await ChangedAsync();
    }

    /// <summary>Hands waiting shards to silos with room (<see cref="ShardDispatcher.Dispatch"/>), then records the change and says so.</summary>
    private async Task ChangedAsync()
    {
        Dispatch();
        await SaveAsync();
        _changed.Raise();
    }

    /// <summary>Waiting shards go to silos with room (<see cref="ShardDispatcher.Dispatch"/>).</summary>
    private void Dispatch()
    {
        if (State.State == JobState.Running) Dispatcher.Dispatch(State.Book);
    }

    /// <summary>A start the dispatcher sent failed (<see cref="ShardDispatcher"/>): the shard's attempt is still current.</summary>
    private Task StartFailedAsync(int shard, string error) => RetryAsync(shard, error);

    /// <summary>An infrastructure fault: the shard waits for another attempt, unless it has had them all (<see cref="ShardDispatcher.Fault"/>).</summary>
    private async Task RetryAsync(int shard, string error)
    {
        if (State.State != JobState.Running) return;
        if (Dispatcher.Fault(State.Book, shard, error) is { } fatal) await FailAsync(fatal);
        else await ChangedAsync();
    }

    /// <summary>
    /// Every <see cref="LeaseCheck"/>: lost attempts run again, waiting shards start (<see cref="ShardDispatcher"/>). An explain
    /// attempt that stopped on a live silo with its outcome staged had handed it to a range grain lost since: its outcome is
    /// taken from the staging, and the shard does not run again.
    /// </summary>
    private async Task CheckLeasesAsync(CancellationToken ct)
    {
        if (State.State != JobState.Running) return;
        var (dispatcher, book) = (Dispatcher, State.Book);
        var (dead, stopped) = await dispatcher.FindLostAsync(book, ct);
        if (stopped.Length > 0 && _pass is ExplainPass && await StagedAsync(book, stopped) is { Length: > 0 } staged)
        {
            foreach (var outcome in staged) LogTakenFromStaging(logger, Id, outcome.ShardIndex, outcome.Attempt);
            await AcceptAllAsync(staged);
            if (State.State != JobState.Running || _dispatcher != dispatcher) return;
        }
        if (dispatcher.Requeue(book, [.. dead.Concat(stopped).Order()]))
        {
            await SaveAsync();
            _changed.Raise();
        }
    }

    /// <summary>The outcomes the current attempts of <paramref name="shards"/> staged, for those that staged one (read off the scheduler).</summary>
    private async Task<ShardPartial[]> StagedAsync(ShardBook book, int[] shards)
    {
        var (spec, outputs) = (State.Job!, _job!.Outputs);
        var attempts = shards.Select(s => (Shard: s, Attempt: book.AttemptsOf(s))).ToArray();
        var found = await Task.Run(() => Task.WhenAll(attempts.Select(a => outputs.StagedPartialAsync(spec, a.Shard, a.Attempt))));
        return [.. found.OfType<ShardPartial>()];
    }

    private async Task FinishAsync()
    {
        using var activity = Activities.StartActivity("job.finish");
        // Shards reported after the last one are ignored once the job is finalizing: the record no longer changes.
        try
        {
            // A job that compares itself with a baseline runs its compare pass once its files are in place.
            if (await _job!.CompareAsync() is { } compare)
            {
                StartLeases();
                await BeginAsync(compare);
                return;
            }
            State.Drift = (await _job.CommitAsync()).Drift is { Length: > 0 } drift ? drift : null;
        }
        catch (Exception e)
        {
            LogFinishFailed(logger, e, Id);
            await FailAsync(e switch
            {
                ExplainException => e.Message,
                _ when StorageFault.Cause(e) is { } cause => $"output {State.Job!.Output}: {cause} (finishing the job)",
                _ => $"finishing the job failed: {e.Message.Split('\n')[0]}",
            });
            return;
        }
        await CompletedAsync();
        LogCompleted(logger, Id);
    }

    private async Task CompletedAsync()
    {
        State.State = JobState.Completed;
        await EndedAsync();
        await StopResumingAsync();
        _changed.Raise();
    }

    private Task FailAsync(string error) => EndAsync(JobState.Failed, error);

    /// <summary>Fails (with <paramref name="error"/>) or cancels the job: running attempts stop, the manifest says so, staging goes.</summary>
    private async Task EndAsync(JobState state, string? error)
    {
        var ended = new TaskCompletionSource();
        _ending = ended.Task;
        try
        {
            (State.State, State.Error) = (state, error is null ? null : Redaction.Text(error));
            StopLeases();
            if (_pass is not null) await Dispatcher.StopAsync(State.Book);
            await EndedAsync();
            _changed.Raise();
            if (error is null) LogCancelled(logger, Id);
            else LogFailed(logger, Id, error);
            await StopResumingAsync();
            if (_job is not null) await _job.EndAsync(error);
        }
        finally
        {
            ended.SetResult();
        }
    }

    /// <summary>Writes what changed (<see cref="WriteAsync"/>), after any save under way.</summary>
    private async Task SaveAsync()
    {
        await _saving.WaitAsync();
        try
        {
            _saveQueued = false; // what changes from here on needs a save of its own
            await WriteAsync();
        }
        finally
        {
            _saving.Release();
        }
    }

    /// <summary>
    /// A save after this turn (<see cref="SaveAsync"/>), unless one is already queued, which will write this turn's
    /// changes too: while one write is in flight, the completions that arrive are written together by the next.
    /// </summary>
    private void SaveSoon()
    {
        if (_saveQueued) return;
        _saveQueued = true;
        _ = SaveQueuedAsync();

        async Task SaveQueuedAsync()
        {
            // Not lost: the journal keeps the shards whose write failed for the next save (ShardJournal.WriteAsync).
            try { await SaveAsync(); }
            catch (Exception e) when (e is not OutOfMemoryException) { LogSaveFailed(logger, e, Id); }
        }
    }

    /// <summary>
    /// Writes what changed: the blocks of the shards whose records changed (<see cref="ShardJournal"/>), then the job's own
    /// record, if it changed (a shard's completion in the explain pass changes only its shard's block).
    /// </summary>
    private async Task WriteAsync()
    {
        await Journal.WriteAsync(State);
        // Other turns run while the blocks are written (a save is not the turn that asked for it): what they changed, a pass's
        // book planned among it, is written before the record that names it, so a record never names blocks that are not
        // there (a kill between the two writes once left "its record of the Tree pass's shards 0+ is missing"). Nothing is
        // awaited from the last check to the record's write.
        for (var round = 0; round < 8 && State.Books.Values.Any(b => b.HasChanges); round++) await Journal.WriteAsync(State);
        var bytes = serializer.SerializeToArray(State);
        if (_written is not null && bytes.AsSpan().SequenceEqual(_written)) return;
        await record.WriteStateAsync();
        _written = bytes;
    }

    /// <summary>An ended job keeps its last status in its record (<see cref="JobRecord.Ended"/>), and answers from it thereafter.</summary>
    private Task EndedAsync()
    {
        State.Ended = null;
        State.Ended = Status();
        return SaveAsync();
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

    private void StopLeases()
    {
        _leases?.Dispose();
        _leases = null;
    }

    private JobStatus Status() => State.Status(_pass, workers.Now().Length == 0);
}
