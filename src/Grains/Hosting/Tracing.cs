using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ExplainCluster.Engine;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ExplainCluster.Grains.Hosting;

public static class Tracing
{
    /// <summary>The activity sources of one job's trace: CLI → job grain → shard → model batches.</summary>
    public static readonly string[] Sources =
    [
        // Literal names: a listener asked about a source while that source is being created must not
        // re-enter the static initialisers that create them.
        "ExplainCluster.Client", "ExplainCluster.Grains", "ExplainCluster.Engine",
        "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application",
    ];

    /// <summary>
    /// OpenTelemetry tracing and metrics (meter <see cref="ExplainMetrics.MeterName"/>); OTLP exporters only
    /// when <c>OpenTelemetry:Otlp:Endpoint</c> is set.
    /// </summary>
    public static IServiceCollection AddExplainTracing(this IServiceCollection services, IConfiguration configuration)
    {
        var endpoint = configuration["OpenTelemetry:Otlp:Endpoint"];
        services.AddOpenTelemetry()
            .WithTracing(tracing =>
            {
                tracing.AddSource(Sources);
                if (!string.IsNullOrWhiteSpace(endpoint)) tracing.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(ExplainMetrics.MeterName);
                if (!string.IsNullOrWhiteSpace(endpoint)) metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
            });
        return services;
    }
}
