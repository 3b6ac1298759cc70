using ExplainCluster.Engine.Models;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace ExplainCluster.Grains.Hosting;

/// <summary>The silo's health endpoint for Kubernetes probes and compose health checks. Section "Health".</summary>
public sealed class HealthSettings
{
    public const string Section = "Health";

    /// <summary>200 while the process serves requests.</summary>
    public const string LivePath = "/health/live";

    /// <summary>200 once the silo is an active cluster member and its model host (if any) is ready; 503 before.</summary>
    public const string ReadyPath = "/health/ready";

    /// <summary>HTTP port of the endpoint (0: none to probe; the server takes a free loopback port).</summary>
    public int Port { get; set; } = 8080;

    public string? Validate() => Port is < 0 or > 65535 ? $"{Section}:Port must be from 0 (no endpoint) to 65535, not {Port}" : null;
}

/// <summary>The Orleans Dashboard (grains, silos, calls) on its own port. Section "Dashboard"; off by default.</summary>
public sealed class DashboardSettings
{
    public const string Section = "Dashboard";

    public bool Enabled { get; set; }

    public int Port { get; set; } = 8081;

    public string? Validate() => Enabled && Port is < 1 or > 65535 ? $"{Section}:Port must be from 1 to 65535, not {Port}" : null;
}

/// <summary>Whether this silo is ready for work: its Redis answered, it joined the membership as active, model host created.</summary>
public sealed class SiloReadiness(IServiceProvider services)
{
    /// <summary>Null when ready; otherwise what it waits for.</summary>
    public string? NotReadyBecause()
    {
        if (services.GetService<MembershipStoreGate>()?.WaitingFor is { } waiting) return waiting;
        var local = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var status = services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.GetSiloStatus(local);
        if (status != SiloStatus.Active) return $"silo is {status}, not active in the cluster";
        if (services.GetRequiredService<LocalModelHost>().Enabled) _ = services.GetRequiredService<ModelHost>();
        return null;
    }
}
