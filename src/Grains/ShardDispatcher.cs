using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Grains.Placement;
using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>
/// A job's dealings with its shard attempts, on the job grain's turn: hands waiting shards to silos with
/// room, finds attempts that were lost, and stops running ones. The decisions (retry, fail) stay with the grain.
/// </summary>
/// <param name="phase">Which pass of the job this dispatcher's attempts run; its attempts have shard grains of their own.</param>
/// <param name="chosen">For the explain pass of a job with stratified subsets, the job's choice (<see cref="ShardRequest.Chosen"/> takes each shard's part).</param>
/// <param name="post">For the post pass, each shard's work.</param>
public sealed class ShardDispatcher(string jobId, IGrainFactory grains, Workers workers, IClusterMembershipService membership,
    ShardPhase phase = ShardPhase.Explain, long[][]? chosen = null, IReadOnlyList<PostWork>? post = null)
{
    /// <summary>Every this many lease checks, running attempts are asked whether they still run.</summary>
    public const int ProbeEvery = 10;

    private int _checks;

    // Why a waiting shard waits (for the attempts metric); not persisted: a resumed job calls it "lost".
    private readonly Dictionary<int, string> _why = [];

    /// <summary>Records why a shard waits for a new attempt: "fault", "lost" or "unplaced".</summary>
    public void Because(int shard, string reason) => _why[shard] = reason;

    /// <summary>
    /// Hands waiting shards to silos with room. Each model-host silo works on at most its capacity of this
    /// job's shards at once, so a silo that frees a slot sooner (faster, or idler) is handed the next shard,
    /// and no silo holds a queue that the others would wait on at the end.
    /// </summary>
    /// <returns>The shards whose attempt could not be started, with why.</returns>
    public async Task<List<(int Shard, string Error)>> DispatchAsync(ShardBook book, JobSpec job)
    {
        var failed = new List<(int, string)>();
        var inFlight = book.InFlight();
        var free = workers.Now().ToDictionary(w => w.Silo, w => w.Capacity - inFlight.GetValueOrDefault(w.Silo));
        foreach (var shard in book.Waiting().ToArray())
        {
            var (silo, room) = free.OrderByDescending(f => f.Value).FirstOrDefault();
            if (silo is null || room <= 0) break;
            free[silo] = room - 1;
            if (await StartAsync(book, job, shard, silo) is { } error) failed.Add((shard, error));
        }
        return failed;
    }

    /// <summary>
    /// Unfinished shards whose attempt was placed on a silo that membership declared dead and, every
    /// <see cref="ProbeEvery"/> calls, those whose shard grain says it no longer runs the attempt.
    /// </summary>
    public async Task<int[]> FindLostAsync(ShardBook book, CancellationToken ct)
    {
        var snapshot = membership.CurrentSnapshot;
        var lost = book.Lost(silo => snapshot.GetSiloStatus(silo) is SiloStatus.Dead or SiloStatus.None).ToHashSet();
        if (++_checks % ProbeEvery == 0)
        {
            var running = book.Running().Where(r => !lost.Contains(r.Shard)).ToArray();
            var alive = await Task.WhenAll(running.Select(async r =>
            {
                try { return await Shard(r.Shard, r.Attempt).IsRunningAsync().WaitAsync(TimeSpan.FromSeconds(5), ct); }
                catch (Exception e) when (e is OrleansException or TimeoutException) { return true; /* ask again next time */ }
            }));
            lost.UnionWith(running.Where((r, i) => !alive[i] && book.IsCurrent(r.Shard, r.Attempt)).Select(r => r.Shard));
        }
        return [.. lost.Order()];
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

    /// <summary>Starts the shard's next attempt on <paramref name="target"/> (the placement falls back to another model-host silo if it has gone).</summary>
    private async Task<string?> StartAsync(ShardBook book, JobSpec job, int shard, SiloAddress target)
    {
        var reason = book.AttemptsOf(shard) == 0 ? "first" : _why.Remove(shard, out var why) ? why : "lost";
        var attempt = book.NewAttempt(shard);
        ExplainMetrics.Attempts.Add(1, new KeyValuePair<string, object?>("reason", reason));
        RequestContext.Set(ModelHostPlacement.TargetKey, target.ToParsableString());
        try
        {
            var spec = book.Shards[shard];
            var within = chosen is null ? null : ExplainCluster.Engine.Jobs.SampleSelection.Within(chosen, spec.Start, spec.Count);
            var silo = await Shard(shard, attempt).StartAsync(new ShardRequest(jobId, job, spec, attempt, phase, within, post?[shard]));
            book.Placed(shard, attempt, silo);
            return null;
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            return $"shard {shard} could not be started: {e.Message.Split('\n')[0]}";
        }
        finally
        {
            RequestContext.Remove(ModelHostPlacement.TargetKey);
        }
    }

    private IShardGrain Shard(int shard, int attempt) =>
        grains.GetGrain<IShardGrain>(phase switch
        {
            ShardPhase.Select => $"{jobId}/select/{shard}/{attempt}",
            ShardPhase.Post => $"{jobId}/post/{shard}/{attempt}",
            _ => $"{jobId}/{shard}/{attempt}",
        });
}
