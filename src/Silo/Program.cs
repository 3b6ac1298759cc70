using System.Net;
using ExplainCluster.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

// A standalone ExplainCluster silo. Settings (appsettings.json, environment with "__", command line):
//   Cluster:SiloPort (11111), Cluster:GatewayPort (30000), Cluster:PrimarySilo (host:port of the first silo;
//   unset on the first silo), ModelHost:Enabled (true), ModelHost:Device (cpu|cuda), ModelHost:IntraOpThreads,
//   Storage:ConnectionString, OpenTelemetry:Otlp:Endpoint.
var builder = Host.CreateApplicationBuilder(args);
var cluster = builder.Configuration.GetSection("Cluster");
var siloPort = cluster.GetValue("SiloPort", 11111);
var gatewayPort = cluster.GetValue("GatewayPort", 30000);
var primary = cluster["PrimarySilo"] is { Length: > 0 } p ? IPEndPoint.Parse(p) : null;
builder.Services.AddExplainTracing(builder.Configuration);
builder.UseOrleans(silo => silo
    .UseLocalhostClustering(siloPort, gatewayPort, primary)
    .AddExplainCluster(builder.Configuration));
await builder.Build().RunAsync();
