using System.Net;
using ExplainCluster.Engine.Models;
using ExplainCluster.Grains.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;

// A standalone ExplainCluster silo. Settings (appsettings.json, environment with "__", command line):
//   Cluster:Provider (localhost|redis), Cluster:Redis (connection string), Cluster:ClusterId (explaincluster),
//   Cluster:SiloPort (11111), Cluster:GatewayPort (30000), Cluster:AdvertisedAddress, Cluster:ProbeTimeout,
//   Cluster:PrimarySilo (localhost only: host:port of the first silo), ModelHost:Enabled (true),
//   ModelHost:Device (cpu|cuda), ModelHost:WorkerThreads, ModelHost:IntraOpThreads,
//   Storage:ConnectionString, OpenTelemetry:Otlp:Endpoint, Health:Port (8080; 0 for none),
//   Dashboard:Enabled (false), Dashboard:Port (8081), Storage:LocalRoots:N (folders local paths must be under),
//   ModelHost:ModelLocations:N (prefixes models must be under), Limits:MaxSamples, Limits:MaxModelBytes,
//   Limits:MaxSampleBytes, Limits:BatchTimeout (00:10:00), Limits:TreeRowsBytes (8 MiB), Cluster:SubmitToken, Cluster:SubmitTokenFile,
//   Cluster:ConnectTimeout (00:01:00: how long a starting silo waits for its Redis).
// Any start-up failure (a wrong setting, a port in use, Redis not answering in time) is one line on stderr, exit 1.
var stopping = CancellationToken.None;
try
{
    var builder = WebApplication.CreateBuilder(args);
    var cluster = builder.Configuration.ClusterSettings();
    var health = builder.Configuration.GetSection(HealthSettings.Section).Get<HealthSettings>() ?? new HealthSettings();
    if (health.Validate() is { } problem) throw new ClusterSettingsException(problem);
    // Checked here as well as at start-up, so a wrong value stops the silo before the host logs anything.
    if (builder.Configuration.GetSection(ModelHostOptions.Section).Get<ModelHostOptions>()?.Validate() is { } hostProblem)
        throw new ClusterSettingsException(hostProblem);
    ExplainSiloExtensions.LimitsFrom(builder.Configuration); // a wrong limit stops the silo before it starts
    var dashboard = builder.Configuration.GetSection(DashboardSettings.Section).Get<DashboardSettings>() ?? new DashboardSettings();
    if (dashboard.Validate() is { } dashboardProblem) throw new ClusterSettingsException(dashboardProblem);
    ClusteringExtensions.EnsurePortsFree(cluster);
    PortCheck.EnsureFree(IPAddress.Any, health.Port, $"{HealthSettings.Section}:Port");
    if (dashboard.Enabled) PortCheck.EnsureFree(IPAddress.Any, dashboard.Port, $"{DashboardSettings.Section}:Port");
    // Port 0: no endpoint to probe (a free loopback port, so that several silos fit on one machine).
    string[] urls = [health.Port > 0 ? $"http://0.0.0.0:{health.Port}" : "http://127.0.0.1:0", .. dashboard.Enabled ? [$"http://0.0.0.0:{dashboard.Port}"] : Array.Empty<string>()];
    builder.WebHost.UseUrls(urls);
    builder.Logging.AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff "));
    // A failed start is the one "error:" line below; the host's own report of it would repeat it with a stack trace.
    builder.Logging.AddFilter(StartupFailure.HostCategory, LogLevel.Critical);
    builder.Services.AddExplainTracing(builder.Configuration);
    builder.Services.AddSingleton<SiloReadiness>();
    builder.UseOrleans(silo =>
    {
        silo.UseExplainClustering(cluster).AddExplainCluster(builder.Configuration);
        if (dashboard.Enabled) silo.AddDashboard();
    });
    builder.Services.StartAfterMembershipStore(cluster);

    var app = builder.Build();
    stopping = app.Lifetime.ApplicationStopping;
    if (!ExplainSiloExtensions.LocationPolicyFrom(builder.Configuration).RestrictsLocalPaths)
        app.Logger.LogWarning("Storage:LocalRoots is not set: jobs may read and write any local path this process can; set it on a shared cluster");
    app.MapGet(HealthSettings.LivePath, () => Results.Text("live"));
    app.MapGet(HealthSettings.ReadyPath, (SiloReadiness readiness) =>
        readiness.NotReadyBecause() is { } why ? Results.Text(why, statusCode: StatusCodes.Status503ServiceUnavailable) : Results.Text("ready"));
    if (dashboard.Enabled) app.MapOrleansDashboard().RequireHost($"*:{dashboard.Port}");
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (stopping.IsCancellationRequested && StartupFailure.IsCancellation(e))
{
    // Asked to stop (SIGTERM) while still starting, e.g. waiting for Redis: a stop, not a failure.
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: {StartupFailure.Describe(e)}");
    return 1;
}
