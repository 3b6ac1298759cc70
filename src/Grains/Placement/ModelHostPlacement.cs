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

/// <summary>
/// Round-robin over the compatible silos whose metadata says they host models, so that a job's shards
/// spread evenly. With no such silo the activation fails with a message that says why.
/// </summary>
public sealed class ModelHostPlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    private int _next = -1;

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var hosts = context.GetCompatibleSilos(target)
            .Where(s => metadata.GetSiloMetadata(s).Metadata.TryGetValue(ModelHostPlacement.MetadataKey, out var v) && v == "true")
            .OrderBy(s => s.ToString(), StringComparer.Ordinal)
            .ToArray();
        if (hosts.Length == 0)
            throw new OrleansException($"no silo in the cluster hosts models ({ModelHostPlacement.MetadataKey}=true) to place {target.GrainIdentity}");
        var index = (int)((uint)Interlocked.Increment(ref _next) % (uint)hosts.Length);
        return Task.FromResult(hosts[index]);
    }
}
