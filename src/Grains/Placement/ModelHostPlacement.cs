using System.Globalization;
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

    /// <summary>Silo metadata: how many shards the silo works on at once (its admission limit).</summary>
    public const string CapacityKey = "explaincluster.capacity";

    /// <summary>Request context key: the silo (parsable address) a job wants this shard attempt on.</summary>
    public const string TargetKey = "explaincluster.target-silo";
}

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ModelHostPlacementAttribute() : PlacementAttribute(new ModelHostPlacement());

/// <summary>Whether this silo runs a model host (configuration <c>ModelHost:Enabled</c>), and how many shards it admits at once.</summary>
public sealed record LocalModelHost(bool Enabled, int Capacity = 1);

/// <summary>A silo that computes shards, and how many it admits at once.</summary>
public sealed record Worker(SiloAddress Silo, int Capacity);

/// <summary>
/// Places a shard attempt on the silo its job asked for (request context <see cref="ModelHostPlacement.TargetKey"/>),
/// if that silo is still there and hosts models; otherwise round-robin over the compatible silos whose
/// metadata says they host models. This silo's own flag is known locally; other silos' metadata arrives
/// with membership, so placement waits briefly for it before failing with a message that says why.
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
            if (target.RequestContextData?.TryGetValue(ModelHostPlacement.TargetKey, out var wanted) == true && wanted is string address
                && hosts.FirstOrDefault(h => h.ToParsableString() == address) is { } chosen)
                return chosen;
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

/// <summary>The active silos that compute shards, with their capacities, as membership and silo metadata say now.</summary>
public sealed class Workers(IClusterMembershipService membership, ISiloMetadataCache metadata, ILocalSiloDetails local, LocalModelHost localHost)
{
    public Worker[] Now() =>
        [.. membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress.Equals(local.SiloAddress)
                ? (localHost.Enabled ? new Worker(m.SiloAddress, localHost.Capacity) : null)
                : FromMetadata(m.SiloAddress))
            .OfType<Worker>()
            .OrderBy(w => w.Silo.ToString(), StringComparer.Ordinal)];

    private Worker? FromMetadata(SiloAddress silo)
    {
        var data = metadata.GetSiloMetadata(silo).Metadata;
        if (!data.TryGetValue(ModelHostPlacement.MetadataKey, out var hosts) || hosts != "true") return null;
        var capacity = data.TryGetValue(ModelHostPlacement.CapacityKey, out var c) && int.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 1;
        return new Worker(silo, Math.Max(1, capacity));
    }
}
