using Orleans.Runtime;

namespace ExplainCluster.Grains;

/// <summary>
/// Which waiting shard a silo with room starts next: it works through a stretch of <see cref="Stretch"/> consecutive shards
/// (rows that share row groups, which it then decodes once, not both silos), and takes the next stretch at the frontier when
/// its own is done; but a waiting shard that has fallen more than <see cref="Lag"/> behind the frontier goes first, lowest first.
/// </summary>
/// <remarks>
/// The job folds shard partials in shard order (<see cref="Engine.Stats.SummaryBuilder"/>), holding every partial that arrives
/// before its predecessors. Stretches that started the silos evenly spread over the shards (one at shard 0, the other halfway)
/// held the second silo's partials until the first had worked through half the job: at 1.36 MB a partial in the table benchmark,
/// 68 of them (92 MB) on the job grain's silo 110 s into 3,000,000 rows, growing with the rows (docs/benchmarks.md, "A table
/// job's peak against the rows"). Here stretches are handed out in shard order, and what a slower silo leaves behind is taken
/// by the faster one once it is <see cref="Lag"/> behind, so what waits for the merge is bounded by the silos and the stretch,
/// not by the job's length.
/// A shard run again (a failed attempt, a lost silo) waits among the rest and is taken as its turn or its lag comes.
/// Used on the job grain's turn only (not thread-safe).
/// </remarks>
public sealed class StretchPicker
{
    /// <summary>Consecutive shards a silo works through: four shards of 16,384 rows are a row group of 65,536.</summary>
    public const int Stretch = 4;

    private readonly Dictionary<SiloAddress, (int Next, int End)> _stretches = [];
    private int _frontier;

    /// <summary>How far behind the frontier a waiting shard may fall before any silo takes it: a stretch more than the silos hold.</summary>
    public static int Lag(int silos) => Stretch * (Math.Max(1, silos) + 1);

    /// <summary>The next shard for <paramref name="silo"/>, one of <paramref name="silos"/> with room or working; null when none waits.</summary>
    public int? Pick(ShardBook book, SiloAddress silo, int silos)
    {
        if (book.NextWaiting(0) is not { } lowest) return null;
        if (_frontier - lowest > Lag(silos)) return lowest;
        if (_stretches.TryGetValue(silo, out var own) && book.NextWaiting(own.Next) is { } next && next >= own.Next && next < own.End)
        {
            _stretches[silo] = (next + 1, own.End);
            return next;
        }
        if (book.NextWaiting(_frontier) is { } ahead && ahead >= _frontier)
        {
            _frontier = ahead + Stretch;
            _stretches[silo] = (ahead + 1, _frontier);
            return ahead;
        }
        // Nothing ahead of the frontier: the rest of the stretches under way, lowest first.
        return lowest;
    }
}
