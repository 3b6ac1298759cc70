using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// A starting silo's wait for its membership store (the cluster's Redis): it asks with a growing pause until
/// Redis answers or <see cref="ClusterSettings.ConnectTimeout"/> has passed, logging at most a line per 10 s,
/// then gives up with a <see cref="ClusterSettingsException"/> naming <c>Cluster:Redis</c> and the address.
/// The localhost provider has no store to wait for.
/// </summary>
public sealed partial class MembershipStoreGate(ClusterSettings settings, ILogger<MembershipStoreGate> logger)
{
    private const string Key = ClusterSettings.Section + ":Redis";
    private static readonly TimeSpan LogEvery = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(250), LongestPause = TimeSpan.FromSeconds(5);
    private volatile string? _waiting = settings.Provider == ClusterSettings.RedisProvider ? $"waiting for {Key} at {RedisProbe.Address(settings.Redis!)}" : null;

    /// <summary>Null once the store has answered; otherwise what the silo waits for (its readiness says it).</summary>
    public string? WaitingFor => _waiting;

    public async Task WaitAsync(CancellationToken ct)
    {
        if (settings.Provider != ClusterSettings.RedisProvider) return;
        var address = RedisProbe.Address(settings.Redis!);
        var started = Stopwatch.GetTimestamp();
        TimeSpan? logged = null;
        for (var pause = FirstPause; ; pause = Min(pause * 2, LongestPause))
        {
            var left = settings.ConnectTimeout - Stopwatch.GetElapsedTime(started);
            var probeTimeout = Min(Max(left, TimeSpan.FromSeconds(1)), LongestPause);
            if (await RedisProbe.ProblemAsync(settings.Redis!, probeTimeout, ct) is not { } why)
            {
                if (logged is not null) LogAnswered(logger, Key, address, Seconds(Stopwatch.GetElapsedTime(started)));
                _waiting = null;
                return;
            }
            _waiting = $"waiting for {Key} at {address} ({why})";
            var elapsed = Stopwatch.GetElapsedTime(started);
            left = settings.ConnectTimeout - elapsed;
            if (left <= TimeSpan.Zero)
                throw new ClusterSettingsException($"{Key}: {address} did not answer within {Seconds(settings.ConnectTimeout)} s ({why}); check {Key}, or give Redis longer with {ClusterSettings.Section}:ConnectTimeout");
            if (logged is null || elapsed - logged >= LogEvery)
            {
                LogWaiting(logger, Key, address, why, Seconds(left));
                logged = elapsed;
            }
            await Task.Delay(Min(pause, left), ct);
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Waiting for {Key} at {Address} ({Why}); giving up in {Left} s")]
    private static partial void LogWaiting(ILogger logger, string key, string address, string why, string left);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Key} at {Address} answered after {Seconds} s")]
    private static partial void LogAnswered(ILogger logger, string key, string address, string seconds);
}
