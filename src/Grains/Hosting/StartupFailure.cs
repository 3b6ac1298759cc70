using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// What a silo that cannot start (or run on) says in its one line: the message of a setting or availability
/// problem, which names the key; the type and first line of anything unforeseen. Never a stack trace.
/// </summary>
public static class StartupFailure
{
    /// <summary>The log category of the generic host, which reports a failed start with the whole exception.</summary>
    public const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    public static string Describe(Exception e) => e switch
    {
        AggregateException { InnerExceptions: [var first, ..] } => Describe(first),
        ClusterSettingsException or OptionsValidationException or Engine.ExplainException => FirstLine(e),
        // The binder names the key: "Failed to convert configuration value at 'Cluster:SiloPort' …".
        InvalidOperationException { Source: "Microsoft.Extensions.Configuration.Binder" } => FirstLine(e),
        // Taken between the check at start and the bind (Kestrel wraps it in an IOException).
        AddressInUseException or IOException { InnerException: AddressInUseException } =>
            $"a port of Cluster:SiloPort, Cluster:GatewayPort, Health:Port or Dashboard:Port was taken while the silo started: {FirstLine(e)}",
        _ => $"the silo stopped: {e.GetType().Name}: {FirstLine(e)}",
    };

    /// <summary>
    /// Whether a failed start is only cancellation: the host starts its services concurrently, so a stop asked for
    /// while several of them wait (for Redis, for a port) arrives as an <see cref="AggregateException"/> of them.
    /// </summary>
    public static bool IsCancellation(Exception e) => e switch
    {
        OperationCanceledException => true,
        AggregateException a => a.InnerExceptions.Count > 0 && a.InnerExceptions.All(IsCancellation),
        _ => false,
    };

    private static string FirstLine(Exception e) => e.Message.Split('\n')[0].TrimEnd();
}
