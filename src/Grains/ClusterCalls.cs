namespace ExplainCluster.Grains;

/// <summary>Calls into the cluster that ride through the replacement of a silo they need.</summary>
public static class ClusterCalls
{
    /// <summary>
    /// Calls, retrying with backoff (0.25 s doubling to 5 s) on Orleans faults and timeouts, as while a dead
    /// silo is declared dead and its grain reactivates elsewhere, for up to <paramref name="retryFor"/>.
    /// </summary>
    public static async Task<T> RetryAsync<T>(Func<Task<T>> call, TimeSpan retryFor, Action<Exception>? retrying = null, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + retryFor;
        for (var delay = TimeSpan.FromMilliseconds(250); ; delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(5).Ticks)))
        {
            try
            {
                // An interrupted caller stops waiting at once (a long poll would hold it for seconds); the call ends by itself.
                return await call().WaitAsync(ct);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException && DateTime.UtcNow + delay < deadline && !ct.IsCancellationRequested)
            {
                retrying?.Invoke(e);
                await Task.Delay(delay, ct);
            }
        }
    }
}
