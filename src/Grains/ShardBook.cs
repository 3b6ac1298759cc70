using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Grains;

/// <summary>
/// A job's shards and their attempts: which attempt is current, the silo it was placed on, and the run
/// accepted for each finished shard. Only the current attempt of a shard can finish it, so a result from
/// a superseded attempt (a silo thought dead, a retried fault) is never counted twice. Backed by the
/// records the job grain persists, so a reactivated job knows exactly where each shard stood.
/// </summary>
public sealed class ShardBook(ShardRecord[] records)
{
    /// <summary>Attempts at one shard before an infrastructure fault fails the job.</summary>
    public const int MaxAttempts = 5;

    public static ShardBook Plan(ShardSpec[] shards) => new([.. shards.Select(s => new ShardRecord { Spec = s, Waiting = true })]);

    public ShardRecord[] Records { get; } = records;

    public ShardSpec[] Shards { get; } = [.. records.Select(r => r.Spec)];

    /// <summary>Accepted runs by shard index, in shard order; complete when every shard has one.</summary>
    public SortedDictionary<int, ShardRun> Done => new(Records.Where(r => r.Done).ToDictionary(
        r => r.Spec.Index, r => new ShardRun(r.Spec.Count, r.DoneSilo!, r.Seconds, r.Attempt, r.Attempt)));

    public int DoneCount => Records.Count(r => r.Done);

    public bool Complete => Records.All(r => r.Done);

    public long SamplesDone => Records.Where(r => r.Done).Sum(r => r.Spec.Count);

    /// <summary>Attempts started over all shards.</summary>
    public int Attempts => Records.Sum(r => r.Attempt);

    public int AttemptsOf(int shard) => Records[shard].Attempt;

    /// <summary>Supersedes the shard's current attempt (if any) with a new one and returns its number (from 1).</summary>
    public int NewAttempt(int shard)
    {
        Records[shard].Silo = null;
        Records[shard].Waiting = false;
        return ++Records[shard].Attempt;
    }

    /// <summary>Marks a shard as needing a new attempt as soon as a silo has room (its current one, if any, stays current until then).</summary>
    public void Wait(int shard)
    {
        if (Records[shard].Done) return;
        Records[shard].Waiting = true;
        Records[shard].Silo = null;
    }

    /// <summary>Puts every finished shard back to waiting, for a pass whose results were not kept; attempt numbers go on. Returns how many.</summary>
    public int Reopen()
    {
        var done = Records.Where(r => r.Done).ToArray();
        foreach (var record in done) (record.Done, record.DoneSilo, record.Seconds, record.Silo, record.Waiting) = (false, null, 0, null, true);
        return done.Length;
    }

    /// <summary>Shards waiting for an attempt, in shard order.</summary>
    public IEnumerable<int> Waiting() => Records.Where(r => r.Waiting && !r.Done).Select(r => r.Spec.Index);

    /// <summary>Attempts running on each silo now (placed, unfinished, not waiting).</summary>
    public Dictionary<SiloAddress, int> InFlight() =>
        Records.Where(r => !r.Done && !r.Waiting && r.Silo is not null).GroupBy(r => r.Silo!).ToDictionary(g => g.Key, g => g.Count());

    /// <summary>Records where an attempt runs, unless it has been superseded meanwhile.</summary>
    public void Placed(int shard, int attempt, SiloAddress silo)
    {
        if (IsCurrent(shard, attempt)) Records[shard].Silo = silo;
    }

    public bool IsCurrent(int shard, int attempt) =>
        shard >= 0 && shard < Records.Length && !Records[shard].Done && Records[shard].Attempt == attempt;

    /// <summary>Accepts a finished attempt if it is the shard's current one; false for a superseded or repeated report.</summary>
    public bool Accept(ShardPartial partial) => Accept(partial.ShardIndex, partial.Attempt, partial.Silo, partial.Seconds);

    public bool Accept(int shard, int attempt, string silo, double seconds)
    {
        if (!IsCurrent(shard, attempt)) return false;
        var record = Records[shard];
        (record.Done, record.DoneSilo, record.Seconds) = (true, silo, seconds);
        return true;
    }

    /// <summary>
    /// Unfinished shards that need a new attempt: placed on a silo that <paramref name="isGone"/> says has
    /// left, or (<paramref name="unplaced"/>) started but never placed, as a job that was lost mid-start finds them.
    /// </summary>
    public int[] Lost(Func<SiloAddress, bool> isGone, bool unplaced = false) =>
        [.. Records.Where(r => !r.Done && (r.Silo is { } silo ? isGone(silo) : unplaced)).Select(r => r.Spec.Index)];

    /// <summary>The current attempts of unfinished shards that have been started (and not yet given up for a new one).</summary>
    public IEnumerable<(int Shard, int Attempt)> Running() =>
        Records.Where(r => !r.Done && !r.Waiting && r.Attempt > 0).Select(r => (r.Spec.Index, r.Attempt));
}

/// <summary>One shard as the job grain persists it.</summary>
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
}
