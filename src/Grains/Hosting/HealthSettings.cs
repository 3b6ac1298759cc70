namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// The silo's HTTP health endpoints, bound from the configuration section "Health": liveness at
/// <see cref="LivePath"/> and readiness at <see cref="ReadyPath"/> on <see cref="Port"/>.
/// </summary>
public sealed class HealthSettings
{
    public const string Section = "Health";

    public const string LivePath = "/health/live";

    public const string ReadyPath = "/health/ready";

    /// <summary>The port the health endpoints listen on.</summary>
    public int Port { get; set; } = 8080;
}
