using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ExplainCluster.Grains.Hosting;

public static class GatedStartExtensions
{
    private const string Gated = "explain.gated";

    /// <summary>
    /// Starts the hosted services registered so far (the Orleans silo, its dashboard, telemetry), in their order,
    /// once the membership store answers (<see cref="MembershipStoreGate"/>); a failed wait fails the start.
    /// Services registered later (ASP.NET Core's web server, which the builder adds last) start at once beside
    /// them, so the health endpoint answers live, and not ready with what the silo waits for, while it waits.
    /// Call it last before building the host.
    /// </summary>
    public static IServiceCollection StartAfterMembershipStore(this IServiceCollection services, ClusterSettings cluster)
    {
        var hosted = services.Where(d => d.ServiceType == typeof(IHostedService) && !d.IsKeyedService).ToArray();
        foreach (var descriptor in hosted)
        {
            services.Remove(descriptor);
            // Keyed: still created, owned and disposed by the container, in registration order.
            services.Add(descriptor.ImplementationType is { } type ? new ServiceDescriptor(typeof(IHostedService), Gated, type, descriptor.Lifetime)
                : descriptor.ImplementationInstance is { } instance ? new ServiceDescriptor(typeof(IHostedService), Gated, instance)
                : new ServiceDescriptor(typeof(IHostedService), Gated, (sp, _) => descriptor.ImplementationFactory!(sp), descriptor.Lifetime));
        }
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<MembershipStoreGate>(sp, cluster));
        services.AddHostedService(sp => new GatedStart(sp.GetRequiredService<MembershipStoreGate>(), () => sp.GetKeyedServices<IHostedService>(Gated)));
        services.Configure<HostOptions>(o => o.ServicesStartConcurrently = true);
        return services;
    }

    private sealed class GatedStart(MembershipStoreGate gate, Func<IEnumerable<IHostedService>> create) : IHostedService
    {
        private readonly Stack<IHostedService> _started = new();

        public async Task StartAsync(CancellationToken ct)
        {
            await gate.WaitAsync(ct);
            foreach (var service in create())
            {
                if (service is IHostedLifecycleService lifecycle) await lifecycle.StartingAsync(ct);
                await service.StartAsync(ct);
                _started.Push(service);
                if (service is IHostedLifecycleService started) await started.StartedAsync(ct);
            }
        }

        public async Task StopAsync(CancellationToken ct)
        {
            while (_started.TryPop(out var service))
            {
                if (service is IHostedLifecycleService lifecycle) await lifecycle.StoppingAsync(ct);
                await service.StopAsync(ct);
                if (service is IHostedLifecycleService stopped) await stopped.StoppedAsync(ct);
            }
        }
    }
}
