using System.Net;
using ExplainCluster.Contracts;
using ExplainCluster.Grains;
using Orleans.Runtime;

namespace ExplainCluster.Tests.Grains;

public class ShardBookTests
{
    internal static readonly SiloAddress SiloA = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 1111), 1);
    internal static readonly SiloAddress SiloB = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 2222), 1);

    private static ShardBook Book() => ShardBook.Plan([new ShardSpec(0, 0, 10), new ShardSpec(1, 10, 10), new ShardSpec(2, 20, 5)]);

    private static ShardPartial Partial(int shard, int attempt, long count = 10) =>
        new(shard, count, "silo", 1.5, [count], [], attempt);

    [Fact]
    public void Accept_SupersededAttempt_IsIgnoredAndCurrentOneCounts()
    {
        var book = Book();
        Assert.Equal(1, book.NewAttempt(0));
        book.Placed(0, 1, SiloA);
        Assert.Equal(2, book.NewAttempt(0));

        Assert.False(book.Accept(Partial(0, 1)));
        Assert.Equal(0, book.DoneCount);
        Assert.True(book.Accept(Partial(0, 2)));
        Assert.False(book.Accept(Partial(0, 2)));
        Assert.Equal(1, book.DoneCount);
        Assert.Equal(10, book.SamplesDone);
        var run = book.Done[0];
        Assert.Equal((2, 2, "silo"), (run.Attempt, run.Attempts, run.Silo));
    }

    [Fact]
    public void Lost_AttemptOnGoneSilo_IsFoundUntilDone()
    {
        var book = Book();
        for (var s = 0; s < 3; s++) book.NewAttempt(s);
        book.Placed(0, 1, SiloA);
        book.Placed(1, 1, SiloB);
        book.Placed(2, 1, SiloA);
        Assert.True(book.Accept(Partial(2, 1, 5)));

        Assert.Equal([0], book.Lost(s => s.Equals(SiloA)));
        Assert.Equal([0, 1], book.Lost(_ => true));
        // A new attempt is not placed yet: it is not lost with its predecessor's silo.
        book.NewAttempt(0);
        Assert.Empty(book.Lost(s => s.Equals(SiloA)));
        Assert.Equal([0], book.Lost(_ => false, unplaced: true));
        // A placement that arrives for a superseded attempt does not move the current one.
        book.Placed(0, 1, SiloA);
        Assert.Empty(book.Lost(s => s.Equals(SiloA)));
    }

    [Fact]
    public void Records_RoundTrip_KeepEveryShardWhereItStood()
    {
        var book = Book();
        book.NewAttempt(0);
        book.Placed(0, 1, SiloA);
        book.NewAttempt(1);
        book.NewAttempt(1);
        Assert.True(book.Accept(Partial(1, 2)));

        var again = new ShardBook(book.Records);
        Assert.Equal(3, again.Attempts);
        Assert.Equal(1, again.DoneCount);
        Assert.Equal([(0, 1)], again.Running());
        Assert.True(again.IsCurrent(0, 1));
        Assert.False(again.IsCurrent(1, 2));
        Assert.Equal([0], again.Lost(s => s.Equals(SiloA)));
        Assert.False(again.Complete);
    }

    /// <summary>
    /// The counts and indices a book keeps as its records change equal a scan of the records, after any sequence of
    /// attempts, placements, losses, acceptances and reopenings; and a book rebuilt from the records (as a resumed job reads
    /// them back) keeps the same ones. Every changed shard is reported to the journal once.
    /// </summary>
    [Fact]
    public void Counts_AfterRandomChanges_EqualAScanOfTheRecords()
    {
        var rng = new Random(7);
        var book = ShardBook.Plan([.. Enumerable.Range(0, 70).Select(i => new ShardSpec(i, i * 10L, 1 + i % 10))]);
        Assert.Equal(Enumerable.Range(0, 70), book.TakeChanged().Order());
        for (var step = 0; step < 2000; step++)
        {
            var shard = rng.Next(70);
            switch (rng.Next(6))
            {
                case 0: book.NewAttempt(shard); break;
                case 1: book.Placed(shard, book.AttemptsOf(shard), rng.Next(2) == 0 ? SiloA : SiloB); break;
                case 2: book.Wait(shard); break;
                case 3: book.Accept(shard, book.AttemptsOf(shard), rng.Next(2) == 0 ? "a" : "b", 1); break;
                case 4 when step % 500 == 0: book.Reopen(); break;
                default:
                    foreach (var lost in book.Lost(silo => silo == SiloB)) book.Wait(lost);
                    break;
            }
            if (step % 100 == 0) AssertCounts(book);
        }
        AssertCounts(book);
        var changed = book.TakeChanged();
        Assert.Equal(changed.Distinct().Count(), changed.Length);
        Assert.Empty(book.TakeChanged());
        AssertCounts(new ShardBook(book.Records));
    }

    private static void AssertCounts(ShardBook book)
    {
        var r = book.Records;
        Assert.Equal(r.Count(x => x.Done), book.DoneCount);
        Assert.Equal(r.Where(x => x.Done).Sum(x => x.Spec.Count), book.SamplesDone);
        Assert.Equal(r.Sum(x => x.Attempt), book.Attempts);
        Assert.Equal(r.All(x => x.Done), book.Complete);
        Assert.Equal(r.Where(x => x.Waiting && !x.Done).Select(x => x.Spec.Index), book.Waiting());
        Assert.Equal(r.Where(x => !x.Done && !x.Waiting && x.Attempt > 0).Select(x => (x.Spec.Index, x.Attempt)), book.Running());
        Assert.Equal(r.Where(x => !x.Done && !x.Waiting && x.Silo is not null).GroupBy(x => x.Silo!).ToDictionary(g => g.Key, g => g.Count()), book.InFlight());
        Assert.Equal(r.Where(x => x.Done).GroupBy(x => x.DoneSilo!).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => KeyValuePair.Create(g.Key, g.Count())), book.DoneBySilo);
        Assert.Equal(r.Where(x => !x.Done && !x.Waiting && x.Silo == SiloB).Select(x => x.Spec.Index), book.Lost(silo => silo == SiloB));
        foreach (var silo in new[] { SiloA, SiloB })
            Assert.Equal(r.Where(x => x.Waiting && !x.Done && x.Prefer == silo).Select(x => x.Spec.Index), book.WaitingFor(silo));
    }

    /// <summary>
    /// A reopened shard prefers the silo its accepted attempt ran on (the error tree's next level finds its rows kept there), until
    /// it starts again; a shard that never ran prefers none; a book rebuilt from the records keeps the preferences.
    /// </summary>
    [Fact]
    public void Reopen_ShardsPreferTheSiloTheyRanOn()
    {
        var book = Book();
        foreach (var (shard, silo) in new[] { (0, SiloA), (1, SiloB) })
        {
            book.NewAttempt(shard);
            book.Placed(shard, 1, silo);
            Assert.True(book.Accept(shard, 1, silo.ToString(), 1));
        }
        Assert.Empty(book.WaitingFor(SiloA));

        Assert.Equal(2, book.Reopen());
        Assert.Equal([0], book.WaitingFor(SiloA));
        Assert.Equal([1], book.WaitingFor(SiloB));
        Assert.Equal([0, 1, 2], book.Waiting());
        Assert.Equal([0], new ShardBook(book.Records).WaitingFor(SiloA));

        book.NewAttempt(0);
        Assert.Empty(book.WaitingFor(SiloA));
        Assert.Equal([1], book.WaitingFor(SiloB));
    }

    /// <summary>A silo goes on from the shard after its last one: the next waiting shard from there, else the first waiting one.</summary>
    [Fact]
    public void NextWaiting_FromAShard_ThenWrapsToTheFirst()
    {
        var book = ShardBook.Plan([.. Enumerable.Range(0, 6).Select(i => new ShardSpec(i, i * 10L, 10))]);
        Assert.Equal(3, book.NextWaiting(3));
        book.NewAttempt(3);
        book.NewAttempt(4);
        Assert.Equal(5, book.NextWaiting(3));
        book.NewAttempt(5);
        Assert.Equal(0, book.NextWaiting(3));
        Assert.Equal(0, book.NextWaiting(99));
        foreach (var shard in new[] { 0, 1, 2 }) book.NewAttempt(shard);
        Assert.Null(book.NextWaiting(0));
    }
}
