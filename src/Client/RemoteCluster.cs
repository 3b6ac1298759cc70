using ExplainCluster.Engine;
using ExplainCluster.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ExplainCluster.Client;

/// <summary>The CLI as an Orleans client of a running cluster, found through its Redis membership table.</summary>
public sealed class RemoteCluster : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60), ProbeTimeout = TimeSpan.FromSeconds(5);
    private readonly IHost _host;

    private RemoteCluster(IHost host) => _host = host;

    public IGrainFactory Grains => _host.Services.GetRequiredService<IClusterClient>();

    /// <param name="redis">The cluster's Redis connection string (<c>--cluster</c>, or environment <c>Cluster__Redis</c>).</param>
    public static async Task<RemoteCluster> ConnectAsync(string? redis, string? clusterId, bool verbose, CancellationToken ct)
    {
        redis = string.IsNullOrWhiteSpace(redis) ? Environment.GetEnvironmentVariable("Cluster__Redis") : redis;
        if (string.IsNullOrWhiteSpace(redis)) throw new ExplainException("--cluster is required: the cluster's Redis connection string (or set Cluster__Redis)");
        var settings = new ClusterSettings
        {
            Provider = ClusterSettings.RedisProvider,
            Redis = redis,
            ClusterId = clusterId ?? Environment.GetEnvironmentVariable("Cluster__ClusterId") ?? "explaincluster",
        };
        if (settings.Validate() is { } problem) throw new ExplainException(problem.Replace("Cluster:Redis", "--cluster", StringComparison.Ordinal));
        // Asked first, so that a typo in --cluster or a Redis not yet up is one line, not the Orleans client's timeout.
        var address = RedisProbe.Address(redis);
        if (await RedisProbe.ProblemAsync(redis, ProbeTimeout, ct) is { } unreachable)
            throw new ExplainException($"cannot reach the cluster's Redis at {address} ({unreachable}); check --cluster or Cluster__Redis");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Logging.ClearProviders().AddStderr(verbose);
        // A failed connection is the one "error:" line below; the host's own report of it would say it again.
        if (!verbose) builder.Logging.AddFilter(StartupFailure.HostCategory, LogLevel.Critical);
        builder.Services.AddCliLifetime();
        var token = SubmitToken.FromEnvironment();
        builder.UseOrleansClient(client =>
        {
            client.UseExplainClustering(settings).AddActivityPropagation();
            if (token is not null) client.AddOutgoingGrainCallFilter(new ClientTokenFilter(token));
        });
        var host = builder.Build();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await host.StartAsync(timeout.Token);
        }
        catch (Exception e) when (e is not ExplainException)
        {
            host.Dispose();
            ct.ThrowIfCancellationRequested(); // interrupted: the command says so
            var why = e is OperationCanceledException ? $"no silo answered within {ConnectTimeout.TotalSeconds:0} s" : e.Message.Split('\n')[0];
            throw new ExplainException($"cannot connect to the cluster at {address}: {why}");
        }
        return new RemoteCluster(host);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _host.StopAsync(stop.Token); }
        catch (OperationCanceledException) { /* leaving anyway */ }
        _host.Dispose();
    }
}
