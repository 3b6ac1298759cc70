using ExplainCluster.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

// A standalone ExplainCluster silo. Settings (appsettings.json, environment with "__", command line):
//   Cluster:Provider (localhost|redis), Cluster:Redis (connection string), Cluster:ClusterId (explaincluster),
//   Cluster:SiloPort (11111), Cluster:GatewayPort (30000), Cluster:AdvertisedAddress, Cluster:ProbeTimeout,
//   Cluster:PrimarySilo (localhost only: host:port of the first silo), ModelHost:Enabled (true),
//   ModelHost:Device (cpu|cuda), ModelHost:WorkerThreads, ModelHost:IntraOpThreads,
//   Storage:ConnectionString, OpenTelemetry:Otlp:Endpoint.
try
{
    var builder = Host.CreateApplicationBuilder(args);
    var cluster = builder.Configuration.ClusterSettings();
    builder.Logging.AddSimpleConsole(o => (o.SingleLine, o.TimestampFormat) = (true, "HH:mm:ss.fff "));
    builder.Services.AddExplainTracing(builder.Configuration);
    builder.UseOrleans(silo => silo
        .UseExplainClustering(cluster)
        .AddExplainCluster(builder.Configuration));
    await builder.Build().RunAsync();
    return 0;
}
catch (Exception e) when (e is ClusterSettingsException or OptionsValidationException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
