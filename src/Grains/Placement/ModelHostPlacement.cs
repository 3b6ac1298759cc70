using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace ExplainCluster.Grains.Placement;

/// <summary>Places a grain only on silos that announce a model host in their silo metadata.</summary>
[GenerateSerializer, Immutable, SuppressReferenceTracking, Alias("ec.ModelHostPlacement")]
public sealed class ModelHostPlacement : PlacementStrategy
{
    public const string MetadataKey = "explaincluster.model-host";
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ModelHostPlacementAttribute() : PlacementAttribute(new ModelHostPlacement());

/// <summary>Whether this silo runs a model host (configuration <c>ModelHost:Enabled</c>).</summary>
public sealed record LocalModelHost(bool Enabled);

/// <summary>
/// Round-robin over the compatible silos whose metadata says they host models, so that a job's shards
/// spread evenly. This silo's own flag is known locally; other silos' metadata arrives with membership,
/// so placement waits briefly for it before failing with a message that says why.
/// </summary>
public sealed class ModelHostPlacementDirector(ISiloMetadataCache metadata, ILocalSiloDetails local, LocalModelHost localHost) : IPlacementDirector
{
    private static readonly TimeSpan MetadataWait = TimeSpan.FromSeconds(10);
    private int _next = -1;

    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var deadline = DateTime.UtcNow + MetadataWait;
        while (true)
        {
            var hosts = context.GetCompatibleSilos(target).Where(HostsModels).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToArray();
            if (hosts.Length > 0) return hosts[(int)((uint)Interlocked.Increment(ref _next) % (uint)hosts.Length)];
            if (DateTime.UtcNow > deadline)
                throw new OrleansException($"no silo in the cluster hosts models ({ModelHostPlacement.MetadataKey}=true) to place {target.GrainIdentity}");
            await Task.Delay(100);
        }
    }

    private bool HostsModels(SiloAddress silo) =>
        silo.Equals(local.SiloAddress)
            ? localHost.Enabled
            : metadata.GetSiloMetadata(silo).Metadata.TryGetValue(ModelHostPlacement.MetadataKey, out var v) && v == "true";
}
