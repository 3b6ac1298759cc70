using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Serialization;
using Orleans.Storage;

namespace ExplainCluster.Grains.Hosting;

public static class ExplainSiloExtensions
{
    /// <summary>Grains whose directory entries a silo caches (Orleans' default is 1,000,000).</summary>
    public const int DirectoryCacheSize = 100_000;

    /// <summary>
    /// The ExplainCluster grains, their placement, storage and (unless <c>ModelHost:Enabled</c> is false)
    /// this silo's model host, announced in silo metadata so shard grains are placed here.
    /// </summary>
    public static ISiloBuilder AddExplainCluster(this ISiloBuilder silo, IConfiguration configuration)
    {
        var hostsModels = configuration.GetValue("ModelHost:Enabled", true);
        // Jobs hand a silo at most its capacity of shards at a time, so a faster or idler silo, which frees
        // its slots sooner, is given more.
        var capacity = (configuration.GetSection(ModelHostOptions.Section).Get<ModelHostOptions>() ?? new ModelHostOptions()).ShardCapacity;
        silo.UseSiloMetadata(new Dictionary<string, string>
        {
            [ModelHostPlacement.MetadataKey] = hostsModels ? "true" : "false",
            [ModelHostPlacement.CapacityKey] = capacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        silo.Services.AddSingleton(new LocalModelHost(hostsModels, capacity));
        silo.Services.AddSingleton<Workers>();
        silo.AddPlacementDirector<ModelHostPlacement, ModelHostPlacementDirector>();
        silo.AddActivityPropagation();
        var cluster = configuration.ClusterSettings();
        silo.AddJobStorage(cluster);
        if (cluster.RequiredToken() is { } token)
        {
            var filter = new SubmitTokenFilter(token);
            silo.AddIncomingGrainCallFilter(filter);
            silo.AddOutgoingGrainCallFilter(filter);
        }

        var services = silo.Services;
        services.AddOptions<ModelHostOptions>().BindConfiguration(ModelHostOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ModelHostOptions>>(new SettingsValidator<ModelHostOptions>(o => o.Validate()));
        // Checked at start-up too, so that a wrong limit stops an embedded run (explain run, demo) in one line before any job, as
        // it stops a silo; the Limits the engine takes are read below, as before.
        services.AddOptions<Limits>().BindConfiguration(Limits.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<Limits>>(new SettingsValidator<Limits>(l => l.Validate()));
        services.AddOptions<RangeOptions>().BindConfiguration(RangeOptions.Section);
        // Orleans sizes its grain directory cache for a million grains up front: two arrays of 9.3 MB on the large object heap,
        // a third of what a table job's silo kept there, and the GC's budget for that heap grows with what survives on it
        // (docs/benchmarks.md). A job's grains are its shards' attempts and ranges; past 100,000 a lookup goes to the directory.
        services.Configure<GrainDirectoryOptions>(o => o.CacheSize = DirectoryCacheSize);
        services.AddSingleton(sp => new BlobLocator(sp.GetRequiredService<IConfiguration>()["Storage:ConnectionString"]));
        services.AddSingleton(sp => LocationPolicyFrom(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp => LimitsFrom(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton(sp => new ModelHost(sp.GetRequiredService<IOptions<ModelHostOptions>>().Value, sp.GetRequiredService<BlobLocator>()));
        services.AddSingleton(sp => new ShardPipeline(sp.GetRequiredService<ModelHost>(), sp.GetRequiredService<BlobLocator>(), sp.GetRequiredService<LocationPolicy>(),
            sp.GetRequiredService<Limits>()));
        return silo;
    }

    /// <summary>The Limits section; a wrong value stops the silo with the key named.</summary>
    public static Limits LimitsFrom(IConfiguration configuration)
    {
        var limits = configuration.GetSection(Limits.Section).Get<Limits>() ?? new Limits();
        return limits.Validate() is { } problem ? throw new ClusterSettingsException(problem) : limits;
    }

    /// <summary>Storage:LocalRoots and ModelHost:ModelLocations, each a list (key:0, key:1, … or a JSON array in appsettings).</summary>
    public static LocationPolicy LocationPolicyFrom(IConfiguration configuration) => new(
        configuration.GetSection(LocationPolicy.LocalRootsKey).Get<string[]>(),
        configuration.GetSection(LocationPolicy.ModelLocationsKey).Get<string[]>());
}

public static class JobStorageExtensions
{
    /// <summary>
    /// Where job grains keep their records and reminders: Redis on a real cluster (they outlive every silo),
    /// memory on the embedded and test clusters. Records use Orleans' own serializer, like grain messages.
    /// </summary>
    public static ISiloBuilder AddJobStorage(this ISiloBuilder silo, ClusterSettings cluster)
    {
        if (cluster.Provider == ClusterSettings.RedisProvider)
        {
            silo.AddRedisGrainStorage(JobGrain.Storage, options => options.Configure<Serializer>((o, serializer) =>
                (o.ConfigurationOptions, o.GrainStorageSerializer) = (ClusteringExtensions.RedisOptions(cluster), new OrleansGrainStorageSerializer(serializer))));
            silo.UseRedisReminderService(o => o.ConfigurationOptions = ClusteringExtensions.RedisOptions(cluster));
        }
        else
        {
            silo.AddMemoryGrainStorage(JobGrain.Storage);
            silo.Services.AddOptions<MemoryGrainStorageOptions>(JobGrain.Storage)
                .Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer));
            silo.UseInMemoryReminderService();
        }
        return silo;
    }
}

/// <summary>Stops the silo (or an embedded run) at start-up with a message naming the wrong key: the settings' own check.</summary>
internal sealed class SettingsValidator<T>(Func<T, string?> validate) : IValidateOptions<T> where T : class
{
    public ValidateOptionsResult Validate(string? name, T options) =>
        validate(options) is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
