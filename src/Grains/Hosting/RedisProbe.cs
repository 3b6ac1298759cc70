using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// Whether a cluster's Redis answers, and if not why, in a few words a user can act on ("connection refused",
/// "host not found", "authentication failed"). The CLI asks once before it connects; a starting silo asks
/// until Redis answers or <see cref="ClusterSettings.ConnectTimeout"/> has passed.
/// </summary>
public static class RedisProbe
{
    /// <summary>The servers of a connection string, <c>host:port</c> each, without its password or options.</summary>
    public static string Address(string connectionString)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.SetDefaultPorts();
        return string.Join(",", options.EndPoints.Select(Format));
    }

    /// <summary>Null when Redis answers a PING within <paramref name="timeout"/>; otherwise why not.</summary>
    public static async Task<string?> ProblemAsync(string connectionString, TimeSpan timeout, CancellationToken ct)
    {
        var options = ConfigurationOptions.Parse(connectionString);
        options.SetDefaultPorts();
        // A plain TCP connection first: StackExchange.Redis reports a refused port as a timeout in its backlog.
        string? unreachable = null;
        foreach (var endpoint in options.EndPoints)
        {
            unreachable = await TcpProblemAsync(endpoint, timeout, ct);
            if (unreachable is null) break;
        }
        if (unreachable is not null) return unreachable;

        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        options.ConnectTimeout = options.SyncTimeout = options.AsyncTimeout = (int)timeout.TotalMilliseconds;
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(ct);
            await redis.GetDatabase().PingAsync().WaitAsync(ct);
            return null;
        }
        catch (RedisConnectionException e)
        {
            return e.FailureType == ConnectionFailureType.AuthenticationFailure ? "authentication failed" : "the port accepts connections but does not answer as Redis";
        }
        catch (RedisTimeoutException)
        {
            return NoAnswer(timeout);
        }
        catch (RedisServerException e)
        {
            // LOADING (a restarting Redis reading its data), NOAUTH, …: Redis's own words.
            return e.Message.Split('\n')[0];
        }
    }

    private static async Task<string?> TcpProblemAsync(EndPoint endpoint, TimeSpan timeout, CancellationToken ct)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint, deadline.Token);
            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return NoAnswer(timeout);
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found",
                SocketError.TimedOut => NoAnswer(timeout),
                SocketError.HostUnreachable or SocketError.NetworkUnreachable => "host unreachable",
                _ => e.Message.Split('\n')[0],
            };
        }
    }

    private static string NoAnswer(TimeSpan timeout) => $"no answer within {timeout.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)} s";

    private static string Format(EndPoint endpoint) => endpoint switch
    {
        DnsEndPoint dns => $"{dns.Host}:{dns.Port.ToString(CultureInfo.InvariantCulture)}",
        _ => endpoint.ToString() ?? "",
    };
}
