using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ExplainCluster.Client;

/// <summary>
/// The lifetime of the hosts inside the CLI (the embedded silo, the cluster client): started and stopped by the command
/// alone. The generic host's default, the console lifetime, takes SIGINT and SIGTERM for itself and only signals its
/// stopping token, which nothing here waits on: Ctrl-C would do nothing. <see cref="Interrupts"/> handles them instead.
/// </summary>
public sealed class CliLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class CliLifetimeExtensions
{
    /// <summary>Replaces the console lifetime with <see cref="CliLifetime"/>.</summary>
    public static IServiceCollection AddCliLifetime(this IServiceCollection services) => services.AddSingleton<IHostLifetime, CliLifetime>();
}
