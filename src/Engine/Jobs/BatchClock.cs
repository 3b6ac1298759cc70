using System.Diagnostics;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// When the batch running now began. The shard's tensor work ticks it at the start of each batch, on a model
/// host thread; a watchdog on another thread checks it against a limit. Once the watchdog has found a batch
/// over the limit, the clock is expired: the work stops at its next tick, if its batch ever returns.
/// </summary>
public sealed class BatchClock
{
    private readonly Lock _lock = new();
    private long _started; // Stopwatch timestamp of the running batch; 0 while none runs
    private Thread? _thread;
    private bool _expired;

    /// <summary>A batch begins on the calling thread. Throws <see cref="OperationCanceledException"/> once the clock has expired.</summary>
    public void Tick()
    {
        lock (_lock)
        {
            if (_expired) throw new OperationCanceledException("the shard's batch ran over its time limit; the shard has already failed");
            _started = Stopwatch.GetTimestamp();
            _thread = Thread.CurrentThread;
        }
    }

    /// <summary>No batch runs any more (the work has ended, however it ended).</summary>
    public void Stop()
    {
        lock (_lock) _started = 0;
    }

    /// <summary>
    /// If the running batch has run for <paramref name="limit"/> or more, expires the clock, calls
    /// <paramref name="stuck"/> with the batch's thread (under the clock's lock, so the batch cannot end in
    /// between) and returns null. Otherwise returns how long until it would have (<paramref name="limit"/> while
    /// no batch runs).
    /// </summary>
    public TimeSpan? Check(TimeSpan limit, Action<Thread> stuck)
    {
        lock (_lock)
        {
            if (_started == 0 || _expired) return limit;
            var running = Stopwatch.GetElapsedTime(_started);
            if (running < limit) return limit - running;
            _expired = true;
            stuck(_thread!);
            return null;
        }
    }
}
