using System.Net;
using System.Net.Sockets;
using ExplainCluster.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ExplainCluster.Client;

/// <summary>A one-silo cluster inside the CLI's own process, on free loopback ports: no services needed.</summary>
public sealed class EmbeddedCluster : IAsyncDisposable
{
    private readonly IHost _host;

    private EmbeddedCluster(IHost host) => _host = host;

    public IGrainFactory Grains => _host.Services.GetRequiredService<IGrainFactory>();

    /// <summary>The embedded silo's services (its model host, for one).</summary>
    public IServiceProvider Services => _host.Services;

    /// <param name="verbose">Log everything, with exception details; otherwise warnings and above, one line each, on stderr.</param>
    public static async Task<EmbeddedCluster> StartAsync(string[]? settings = null, bool verbose = false)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = settings ?? [], DisableDefaults = false });
        builder.Logging.ClearProviders().AddStderr(verbose);
        // The job's outcome is the CLI's own one-line error; the job grain's warning would say it twice.
        if (!verbose) builder.Logging.AddFilter("ExplainCluster.Grains.JobGrain", LogLevel.Error);
        // A wrong setting is the CLI's own "error:" line; the host's report of its failed start would say it twice.
        if (!verbose) builder.Logging.AddFilter(StartupFailure.HostCategory, LogLevel.Critical);
        builder.Services.AddExplainTracing(builder.Configuration).AddCliLifetime();
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(FreePort(), FreePort())
            .AddExplainCluster(builder.Configuration));
        var host = builder.Build();
        await host.StartAsync();
        return new EmbeddedCluster(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
