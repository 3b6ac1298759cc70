using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Grains;

/// <summary>
/// A job's shards and their attempts: which attempt is current, the silo it was placed on, and the run
/// accepted for each finished shard. Only the current attempt of a shard can finish it, so a result from
/// a superseded attempt (a silo thought dead, a retried fault) is never counted twice. Backed by the
/// records the job persists (<see cref="ShardJournal"/>), so a reactivated job knows exactly where each shard stood.
/// </summary>
/// <remarks>
/// The counts (done, samples, attempts, per silo) and the indices (waiting shards in order, running ones, those placed
/// on each silo) are kept as the records change, so that a completion, a dispatch or a lease check costs the same at
/// 25 shards as at 250,000; every changed record is noted (<see cref="TakeChanged"/>) for the journal to write.
/// </remarks>
public sealed class ShardBook
{
    /// <summary>Attempts at one shard before an infrastructure fault fails the job.</summary>
    public const int MaxAttempts = 5;

    private readonly SortedSet<int> _waiting = [];
    private readonly Dictionary<SiloAddress, SortedSet<int>> _waitingFor = [];
    private readonly SortedSet<int> _running = [];
    private readonly Dictionary<SiloAddress, HashSet<int>> _placed = [];
    private readonly SortedDictionary<string, int> _doneBySilo = new(StringComparer.Ordinal);
    private readonly HashSet<int> _changed = [];

    public ShardBook(ShardRecord[] records)
    {
        Records = records;
        Shards = [.. records.Select(r => r.Spec)];
        SamplesTotal = Shards.Sum(s => s.Count);
        foreach (var record in records)
        {
            Attempts += record.Attempt;
            Index(record);
        }
    }

    /// <summary>A new book: every shard waits for its first attempt (all of them to be written).</summary>
    public static ShardBook Plan(ShardSpec[] shards)
    {
        var book = new ShardBook([.. shards.Select(s => new ShardRecord { Spec = s, Waiting = true })]);
        book._changed.UnionWith(Enumerable.Range(0, shards.Length));
        return book;
    }

    public ShardRecord[] Records { get; }

    public ShardSpec[] Shards { get; }

    public long SamplesTotal { get; }

    /// <summary>Accepted runs by shard index, in shard order; complete when every shard has one. Scans every record.</summary>
    public SortedDictionary<int, ShardRun> Done => new(Records.Where(r => r.Done).ToDictionary(
        r => r.Spec.Index, r => new ShardRun(r.Spec.Count, r.DoneSilo!, r.Seconds, r.Attempt, r.Attempt)));

    public int DoneCount { get; private set; }

    public bool Complete => DoneCount == Records.Length;

    public long SamplesDone { get; private set; }

    /// <summary>Attempts started over all shards.</summary>
    public int Attempts { get; private set; }

    /// <summary>Finished shards by the silo that ran their accepted attempt, in silo order.</summary>
    public IReadOnlyDictionary<string, int> DoneBySilo => _doneBySilo;

    public int AttemptsOf(int shard) => Records[shard].Attempt;

    /// <summary>Supersedes the shard's current attempt (if any) with a new one and returns its number (from 1).</summary>
    public int NewAttempt(int shard)
    {
        Change(shard, r => (r.Silo, r.Waiting, r.Attempt) = (null, false, r.Attempt + 1));
        Attempts++;
        return Records[shard].Attempt;
    }

    /// <summary>Marks a shard as needing a new attempt as soon as a silo has room (its current one, if any, stays current until then).</summary>
    public void Wait(int shard)
    {
        if (!Records[shard].Done) Change(shard, r => (r.Waiting, r.Silo) = (true, null));
    }

    /// <summary>Puts every finished shard back to waiting, for a pass whose results were not kept; attempt numbers go on. Returns how many.</summary>
    public int Reopen() => Reopen([.. Records.Where(r => r.Done).Select(r => r.Spec.Index)]);

    /// <summary>
    /// Puts the given finished shards back to waiting; attempt numbers go on. Each prefers the silo its accepted attempt ran on
    /// (<see cref="WaitingFor"/>), which may have kept what the next attempt reads (the error tree's rows, decoded row groups). Returns how many.
    /// </summary>
    public int Reopen(int[] done)
    {
        foreach (var shard in done) Change(shard, r => (r.Done, r.DoneSilo, r.Seconds, r.Prefer, r.Silo, r.Waiting) = (false, null, 0, r.Silo, null, true));
        return done.Length;
    }

    /// <summary>Waiting shards that prefer <paramref name="silo"/> (<see cref="Reopen(int[])"/>), in shard order (the set itself: take what you need before changing the book).</summary>
    public IEnumerable<int> WaitingFor(SiloAddress silo) => _waitingFor.TryGetValue(silo, out var shards) ? shards : [];

    /// <summary>Shards waiting for an attempt, in shard order (the set itself: take what you need before changing the book).</summary>
    public IEnumerable<int> Waiting() => _waiting;

    public int WaitingCount => _waiting.Count;

    /// <summary>The first waiting shard from <paramref name="from"/> on, else the first waiting one; null when none waits.</summary>
    public int? NextWaiting(int from)
    {
        foreach (var shard in _waiting.GetViewBetween(from, int.MaxValue)) return shard;
        return _waiting.Count > 0 ? _waiting.Min : null;
    }

    /// <summary>Attempts running on each silo now (placed, unfinished, not waiting).</summary>
    public Dictionary<SiloAddress, int> InFlight() => _placed.Where(p => p.Value.Count > 0).ToDictionary(p => p.Key, p => p.Value.Count);

    /// <summary>Records where an attempt runs, unless it has been superseded meanwhile.</summary>
    public void Placed(int shard, int attempt, SiloAddress silo)
    {
        if (IsCurrent(shard, attempt)) Change(shard, r => r.Silo = silo);
    }

    public bool IsCurrent(int shard, int attempt) =>
        shard >= 0 && shard < Records.Length && !Records[shard].Done && Records[shard].Attempt == attempt;

    /// <summary>Accepts a finished attempt if it is the shard's current one; false for a superseded or repeated report.</summary>
    public bool Accept(ShardPartial partial) => Accept(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds);

    public bool Accept(int shard, int attempt, string silo, double seconds)
    {
        if (!IsCurrent(shard, attempt)) return false;
        Change(shard, r => (r.Done, r.DoneSilo, r.Seconds) = (true, silo, seconds));
        return true;
    }

    /// <summary>
    /// Unfinished shards that need a new attempt: placed on a silo that <paramref name="isGone"/> says has
    /// left, or (<paramref name="unplaced"/>) started but never placed, as a job that was lost mid-start finds them.
    /// </summary>
    public int[] Lost(Func<SiloAddress, bool> isGone, bool unplaced = false)
    {
        var lost = _placed.Where(p => p.Value.Count > 0 && isGone(p.Key)).SelectMany(p => p.Value).ToHashSet();
        if (unplaced) lost.UnionWith(_running.Where(s => Records[s].Silo is null));
        return [.. lost.Order()];
    }

    /// <summary>The current attempts of unfinished shards that have been started (and not yet given up for a new one), in shard order.</summary>
    public IEnumerable<(int Shard, int Attempt)> Running() => _running.Select(s => (s, Records[s].Attempt));

    /// <summary>The shards whose records changed since the last call (for <see cref="ShardJournal"/> to write), and forgets them.</summary>
    /// <summary>Whether records changed since the last <see cref="TakeChanged"/>.</summary>
    public bool HasChanges => _changed.Count > 0;

    public int[] TakeChanged()
    {
        var changed = _changed.ToArray();
        _changed.Clear();
        return changed;
    }

    /// <summary>Notes the shards from <paramref name="first"/> up to <paramref name="end"/> as changed again: their write failed.</summary>
    public void Unwritten(int first, int end) => _changed.UnionWith(Enumerable.Range(first, end - first));

    /// <summary>Changes one record, keeping the counts and indices in step with it, and notes it for the journal.</summary>
    private void Change(int shard, Action<ShardRecord> change)
    {
        var record = Records[shard];
        Unindex(record);
        change(record);
        Index(record);
        _changed.Add(shard);
    }

    private void Index(ShardRecord r) => Count(r, +1);

    private void Unindex(ShardRecord r) => Count(r, -1);

    private void Count(ShardRecord r, int sign)
    {
        var shard = r.Spec.Index;
        if (r.Done)
        {
            (DoneCount, SamplesDone) = (DoneCount + sign, SamplesDone + sign * r.Spec.Count);
            var silo = r.DoneSilo ?? "";
            if ((_doneBySilo[silo] = _doneBySilo.GetValueOrDefault(silo) + sign) == 0) _doneBySilo.Remove(silo);
            return;
        }
        if (r.Waiting)
        {
            if (sign > 0) _waiting.Add(shard);
            else _waiting.Remove(shard);
            if (r.Prefer is { } prefer) Count(_waitingFor, prefer, shard, sign);
            return;
        }
        if (r.Attempt == 0) return;
        if (sign > 0) _running.Add(shard);
        else _running.Remove(shard);
        if (r.Silo is { } placed) Count(_placed, placed, shard, sign);
    }

    /// <summary>Adds or removes a shard in its silo's set of <paramref name="bySilo"/>; a silo whose set empties is dropped.</summary>
    private static void Count<TSet>(Dictionary<SiloAddress, TSet> bySilo, SiloAddress silo, int shard, int sign)
        where TSet : ISet<int>, new()
    {
        if (sign > 0)
        {
            if (!bySilo.TryGetValue(silo, out var shards)) bySilo[silo] = shards = new TSet();
            shards.Add(shard);
        }
        else if (bySilo[silo].Remove(shard) && bySilo[silo].Count == 0) bySilo.Remove(silo);
    }
}

/// <summary>One shard as the job persists it (<see cref="ShardJournal"/>).</summary>
[GenerateSerializer, Alias("ec.ShardRecord")]
public sealed class ShardRecord
{
    [Id(0)] public ShardSpec Spec { get; set; } = new(0, 0, 0);

    /// <summary>The current attempt (0: not started). Once done, the attempt that was accepted.</summary>
    [Id(1)] public int Attempt { get; set; }

    /// <summary>Where the current attempt was placed; null until it is.</summary>
    [Id(2)] public SiloAddress? Silo { get; set; }

    [Id(3)] public bool Done { get; set; }

    [Id(4)] public string? DoneSilo { get; set; }

    [Id(5)] public double Seconds { get; set; }

    /// <summary>Needs a new attempt as soon as a silo has room: not started yet, or its attempt was lost or failed.</summary>
    [Id(6)] public bool Waiting { get; set; }

    /// <summary>Where the shard ran before it was reopened for this pass's next round: placed there while that silo has room.</summary>
    [Id(7)] public SiloAddress? Prefer { get; set; }
}
