using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Grains.Passes;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>
/// A job's dealings with the shard attempts of one pass, on the job grain's turn: hands waiting shards to silos with
/// room, finds attempts that were lost, gives a faulted shard another attempt (a few at most), and stops running ones.
/// Whatever fails the job is returned to the grain, which decides.
/// </summary>
/// <param name="pass">The pass whose attempts these are: it makes their requests and keys their shard grains.</param>
/// <param name="startFailed">Called, on the grain's scheduler, with the shard and the error when a start this dispatcher sent
/// failed and its attempt is still the shard's current one (<see cref="Dispatch"/> does not wait for the answers).</param>
/// <param name="ranges">Where the explain pass's attempts send their outcomes (<see cref="RangeGrain"/>).</param>
public sealed partial class ShardDispatcher(string jobId, IGrainFactory grains, Workers workers, IClusterMembershipService membership, IJobPass pass,
    Func<int, string, Task> startFailed, ILogger logger, RangeOptions? ranges = null)
{
    /// <summary>Every this many lease checks, running attempts are asked whether they still run.</summary>
    public const int ProbeEvery = 10;

    private int _checks;

    // Why a waiting shard waits (for the attempts metric); not persisted: a resumed job calls it "lost".
    private readonly Dictionary<int, string> _why = [];

    // Attempts whose start has been sent and not yet answered: a probe could reach their shard grain before the start does.
    private readonly HashSet<(int Shard, int Attempt)> _starting = [];

    /// <summary>How long a silo that a start could not reach gets no starts (membership declares a killed silo dead later).</summary>
    public static readonly TimeSpan UnreachableFor = TimeSpan.FromSeconds(10);

    /// <summary>Starts a shard may lose to unreachable silos without their counting among its <see cref="ShardBook.MaxAttempts"/>.</summary>
    public const int MaxUnreachable = 20;

    // Silos a start could not reach, until when they get no more; and per shard, its starts lost so (not its own fault).
    private readonly Dictionary<SiloAddress, DateTime> _unreachable = [];
    private readonly Dictionary<int, int> _unreached = [];

    // Where each silo goes on from, and the stretches still ahead (Dispatch).
    private readonly StretchPicker _picker = new();

    /// <summary>Makes a shard wait for a new attempt, and records why: "fault", "lost" or "unplaced".</summary>
    public void Requeue(ShardBook book, int shard, string reason)
    {
        _why[shard] = reason;
        book.Wait(shard);
    }

    /// <summary>An infrastructure fault: the shard waits for another attempt; unless it has had them all, then the error that fails the job.</summary>
    public string? Fault(ShardBook book, int shard, string error)
    {
        if (book.AttemptsOf(shard) - _unreached.GetValueOrDefault(shard) >= ShardBook.MaxAttempts) return $"{error} (after {ShardBook.MaxAttempts} attempts)";
        LogRetry(logger, jobId, shard, error);
        Requeue(book, shard, "fault");
        return null;
    }

    /// <summary>
    /// The rest of a lease check, once the caller has had its say on the attempts <see cref="FindLostAsync"/> found: those of
    /// <paramref name="lost"/> still current wait for a new attempt, then waiting shards go to silos with room, including silos
    /// that just joined. Returns whether the book changed.
    /// </summary>
    public bool Requeue(ShardBook book, int[] lost)
    {
        var requeued = 0;
        foreach (var shard in lost)
        {
            if (book.Records[shard] is { Done: true } or { Waiting: true }) continue;
            LogLost(logger, jobId, shard);
            Requeue(book, shard, "lost");
            requeued++;
        }
        var waiting = book.WaitingCount;
        Dispatch(book);
        return requeued > 0 || book.WaitingCount != waiting;
    }

    /// <summary>
    /// Hands waiting shards to silos with room. Each model-host silo works on at most its capacity of this
    /// job's shards at once, so a silo that frees a slot sooner (faster, or idler) is handed the next shard,
    /// and no silo holds a queue that the others would wait on at the end.
    /// </summary>
    /// <remarks>
    /// The starts are sent, not awaited: each attempt counts as placed on its target at once, and the answers come back
    /// after this turn (<see cref="StartedAsync"/>). Awaiting them held the job grain for a round trip per completion, and at
    /// 6,250 shards of 16 samples its turns (11.6 ms each) were more than the silos' work (docs/scale.md).
    /// </remarks>
    public void Dispatch(ShardBook book)
    {
        var inFlight = book.InFlight();
        var now = DateTime.UtcNow;
        // A silo a start could not reach lately gets none: until membership declares it dead, the placement still names it.
        var free = workers.Now().Where(w => !(_unreachable.TryGetValue(w.Silo, out var until) && until > now))
            .ToDictionary(w => w.Silo, w => w.Capacity - inFlight.GetValueOrDefault(w.Silo));
        // First the shards that prefer a silo with room (they ran there in the round before, and it may have kept their rows).
        foreach (var (silo, room) in free.Where(f => f.Value > 0).ToArray())
            foreach (var shard in book.WaitingFor(silo).Take(room).ToArray())
            {
                free[silo]--;
                Start(book, shard, silo);
            }
        // Then stretches of consecutive shards in shard order, and what falls behind first (StretchPicker).
        var silos = free.Count;
        foreach (var silo in free.Where(f => f.Value > 0).OrderByDescending(f => f.Value).Select(f => f.Key).ToArray())
            for (var room = free[silo]; room > 0 && _picker.Pick(book, silo, silos) is { } shard; room--)
                Start(book, shard, silo);
    }

    /// <summary>
    /// Unfinished shards whose attempt was placed on a silo that membership declared dead (<c>Dead</c>) and, every
    /// <see cref="ProbeEvery"/> calls, those whose shard grain, on a live silo, says it no longer runs the attempt (<c>Stopped</c>:
    /// once the start was answered, as a probe that overtook the start would find the grain idle). A stopped attempt may have
    /// finished and handed its outcome to a range grain that was lost since: its staging says.
    /// </summary>
    public async Task<(int[] Dead, int[] Stopped)> FindLostAsync(ShardBook book, CancellationToken ct)
    {
        var snapshot = membership.CurrentSnapshot;
        var dead = book.Lost(silo => snapshot.GetSiloStatus(silo) is SiloStatus.Dead or SiloStatus.None).ToHashSet();
        if (++_checks % ProbeEvery != 0) return ([.. dead.Order()], []);
        var running = book.Running().Where(r => !dead.Contains(r.Shard) && !_starting.Contains(r)).ToArray();
        var alive = await Task.WhenAll(running.Select(async r =>
        {
            try { return await Shard(r.Shard, r.Attempt).IsRunningAsync().WaitAsync(TimeSpan.FromSeconds(5), ct); }
            catch (Exception e) when (e is OrleansException or TimeoutException) { return true; /* ask again next time */ }
        }));
        return ([.. dead.Order()], [.. running.Where((r, i) => !alive[i] && book.IsCurrent(r.Shard, r.Attempt)).Select(r => r.Shard).Order()]);
    }

    /// <summary>Stops every running attempt and waits (boundedly) until they no longer write, so their staging can go.</summary>
    public async Task StopAsync(ShardBook book)
    {
        await Task.WhenAll(book.Running().Select(async r =>
        {
            try { await Shard(r.Shard, r.Attempt).CancelAsync().WaitAsync(TimeSpan.FromSeconds(15)); }
            catch (Exception e) when (e is OrleansException or TimeoutException) { /* its silo is gone or slow: nothing more it can write here */ }
        }));
    }

    /// <summary>
    /// Sends the start of the shard's next attempt to <paramref name="target"/>, where it counts as placed from now on (the
    /// placement falls back to another model-host silo if it has gone: the answer then moves it there).
    /// </summary>
    private void Start(ShardBook book, int shard, SiloAddress target)
    {
        var reason = book.AttemptsOf(shard) == 0 ? "first" : _why.Remove(shard, out var why) ? why : "lost";
        var attempt = book.NewAttempt(shard);
        ExplainMetrics.Attempts.Add(1, new KeyValuePair<string, object?>("reason", reason));
        book.Placed(shard, attempt, target);
        Task<SiloAddress> call;
        RequestContext.Set(ModelHostPlacement.TargetKey, target.ToParsableString());
        try
        {
            // The request context travels with the message, which is made here.
            var request = pass.Request(jobId, book.Shards[shard], attempt);
            if (pass.Kind == JobPass.Explain && ranges?.RangeOf(jobId, shard, book.Shards.Length) is ({ } range, var shards))
                request = request with { Range = range, RangeShards = shards };
            call = Shard(shard, attempt).StartAsync(request);
        }
        finally
        {
            RequestContext.Remove(ModelHostPlacement.TargetKey);
        }
        _starting.Add((shard, attempt));
        _ = StartedAsync(book, shard, attempt, target, call);
    }

    /// <summary>A start's answer, after the turn that sent it: where the attempt runs, or the fault that gives the shard another.</summary>
    private async Task StartedAsync(ShardBook book, int shard, int attempt, SiloAddress target, Task<SiloAddress> call)
    {
        string? error = null;
        try
        {
            if (await call is var silo && !silo.Equals(target)) book.Placed(shard, attempt, silo);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            error = $"shard {shard} could not be started: {FaultText.Line(e)}";
            // The message never reached the silo (killed, not yet declared dead): the silo's fault, not the shard's. The silo
            // gets no starts for a while, and the attempt does not count among the shard's (up to MaxUnreachable of them).
            if (e is OrleansMessageRejectionException)
            {
                _unreachable[target] = DateTime.UtcNow + UnreachableFor;
                if (_unreached.GetValueOrDefault(shard) < MaxUnreachable) _unreached[shard] = _unreached.GetValueOrDefault(shard) + 1;
            }
        }
        finally
        {
            _starting.Remove((shard, attempt));
        }
        if (error is null || !book.IsCurrent(shard, attempt)) return;
        try { await startFailed(shard, error); }
        catch (Exception fault) { LogStartFailedUnhandled(logger, fault, jobId, shard); }
    }

    private IShardGrain Shard(int shard, int attempt) => grains.GetGrain<IShardGrain>(pass.ShardKey(jobId, shard, attempt));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard}: its silo left the cluster; running it again")]
    private static partial void LogLost(ILogger logger, string jobId, int shard);

    [LoggerMessage(Level = LogLevel.Error, Message = "Job {JobId} shard {Shard}: its failed start could not be handled")]
    private static partial void LogStartFailedUnhandled(ILogger logger, Exception error, string jobId, int shard);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Job {JobId} shard {Shard}: {Error}; running it again")]
    private static partial void LogRetry(ILogger logger, string jobId, int shard, string error);
}
