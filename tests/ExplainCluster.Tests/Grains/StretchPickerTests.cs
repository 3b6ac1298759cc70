using ExplainCluster.Contracts;
using ExplainCluster.Grains;
using Orleans.Runtime;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The dispatcher's choice of shards (<see cref="StretchPicker"/>), run against a simulated clock: silos of different speeds take
/// shards as they have room, and the job's in-order merge holds every finished shard above the lowest unfinished one.
/// </summary>
public class StretchPickerTests
{
    private static readonly SiloAddress SiloA = ShardBookTests.SiloA;
    private static readonly SiloAddress SiloB = ShardBookTests.SiloB;

    /// <summary>
    /// Equal silos: each works through stretches of consecutive shards (so a row group is decoded by one of them), and the
    /// merge never holds more than the stretches under way. Starting the second silo halfway held half the job.
    /// </summary>
    [Fact]
    public void EqualSilos_WorkInStretches_AndTheMergeHoldsAFewShards()
    {
        var run = Simulate(400, (SiloA, 1.0, 2), (SiloB, 1.0, 2));
        Assert.Equal(400, run.Order.Count);
        // Every aligned block of 4 shards ran on one silo.
        for (var block = 0; block < 400; block += StretchPicker.Stretch)
            Assert.Single(Enumerable.Range(block, StretchPicker.Stretch).Select(s => run.Silo[s]).Distinct());
        Assert.True(run.MaxHeld <= 2 * StretchPicker.Stretch, $"the merge held {run.MaxHeld} partials");
    }

    /// <summary>
    /// One silo three times slower than the other: the fast silo takes what the slow one leaves behind once it lags, so the merge's
    /// backlog stays under the lag bound over 400 shards instead of growing with them.
    /// </summary>
    [Fact]
    public void SlowSilo_ItsShardsAreTakenOverOnceTheyLag_TheBacklogStaysBounded()
    {
        var run = Simulate(400, (SiloA, 1.0, 2), (SiloB, 3.0, 2));
        Assert.Equal(400, run.Order.Count);
        Assert.True(run.MaxHeld <= StretchPicker.Lag(2) + 2 * StretchPicker.Stretch, $"the merge held {run.MaxHeld} partials");
        Assert.True(run.Silo.Values.Count(s => s.Equals(SiloA)) > 250, "the fast silo ran most shards");
    }

    /// <summary>A shard whose attempt failed waits again and is run before it holds the merge back past the lag.</summary>
    [Fact]
    public void FailedShard_RunsAgainWithinTheLag()
    {
        var run = Simulate(200, [(SiloA, 1.0, 2), (SiloB, 1.0, 2)], failOnce: [10, 57]);
        Assert.Equal(200, run.Order.Count);
        Assert.True(run.MaxHeld <= StretchPicker.Lag(2) + 2 * StretchPicker.Stretch, $"the merge held {run.MaxHeld} partials");
        Assert.True(run.Order.IndexOf(10) < 10 + StretchPicker.Lag(2) + 4 * StretchPicker.Stretch, "shard 10 ran again late");
    }

    private sealed record Run(List<int> Order, Dictionary<int, SiloAddress> Silo, int MaxHeld);

    private static Run Simulate(int shards, params (SiloAddress Silo, double Seconds, int Slots)[] silos) => Simulate(shards, silos, []);

    /// <summary>
    /// Silos with <c>Slots</c> attempts at a time, each taking <c>Seconds</c>; every time one finishes, the dispatcher fills the room.
    /// <paramref name="failOnce"/>: shards whose first attempt fails (and which then wait again).
    /// </summary>
    private static Run Simulate(int shards, (SiloAddress Silo, double Seconds, int Slots)[] silos, int[] failOnce)
    {
        var book = ShardBook.Plan([.. Enumerable.Range(0, shards).Select(i => new ShardSpec(i, i * 100L, 100))]);
        var picker = new StretchPicker();
        var running = new List<(double End, int Shard, int Attempt, SiloAddress Silo)>();
        var (order, silo, done) = (new List<int>(), new Dictionary<int, SiloAddress>(), new SortedSet<int>());
        var (now, merged, maxHeld) = (0.0, 0, 0);
        var failed = new HashSet<int>();
        while (order.Count < shards)
        {
            foreach (var (address, seconds, slots) in silos)
                for (var room = slots - running.Count(r => r.Silo.Equals(address)); room > 0 && picker.Pick(book, address, silos.Length) is { } shard; room--)
                {
                    var attempt = book.NewAttempt(shard);
                    book.Placed(shard, attempt, address);
                    running.Add((now + seconds, shard, attempt, address));
                }
            var next = running.MinBy(r => (r.End, r.Shard));
            running.Remove(next);
            now = next.End;
            if (failOnce.Contains(next.Shard) && failed.Add(next.Shard))
            {
                book.Wait(next.Shard);
                continue;
            }
            Assert.True(book.Accept(next.Shard, next.Attempt, next.Silo.ToString(), 1));
            silo[next.Shard] = next.Silo;
            order.Add(next.Shard);
            done.Add(next.Shard);
            while (done.Remove(merged)) merged++;
            maxHeld = Math.Max(maxHeld, done.Count);
        }
        return new Run(order, silo, maxHeld);
    }
}
