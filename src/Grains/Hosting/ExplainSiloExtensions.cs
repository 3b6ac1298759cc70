using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains.Placement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace ExplainCluster.Grains.Hosting;

public static class ExplainSiloExtensions
{
    /// <summary>
    /// The ExplainCluster grains, their placement, storage and (unless <c>ModelHost:Enabled</c> is false)
    /// this silo's model host, announced in silo metadata so shard grains are placed here.
    /// </summary>
    public static ISiloBuilder AddExplainCluster(this ISiloBuilder silo, IConfiguration configuration)
    {
        var hostsModels = configuration.GetValue("ModelHost:Enabled", true);
        silo.UseSiloMetadata(new Dictionary<string, string> { [ModelHostPlacement.MetadataKey] = hostsModels ? "true" : "false" });
        silo.Services.AddSingleton(new LocalModelHost(hostsModels));
        silo.AddPlacementDirector<ModelHostPlacement, ModelHostPlacementDirector>();
        silo.AddActivityPropagation();

        var services = silo.Services;
        services.AddOptions<ModelHostOptions>().BindConfiguration(ModelHostOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ModelHostOptions>, ModelHostOptionsValidator>();
        services.AddSingleton(sp => new BlobLocator(sp.GetRequiredService<IConfiguration>()["Storage:ConnectionString"]));
        services.AddSingleton(sp => new ModelHost(sp.GetRequiredService<IOptions<ModelHostOptions>>().Value, sp.GetRequiredService<BlobLocator>()));
        services.AddSingleton(sp => new ShardPipeline(sp.GetRequiredService<ModelHost>(), sp.GetRequiredService<BlobLocator>()));
        return silo;
    }
}

/// <summary>Stops the silo at start-up with a message naming the wrong key.</summary>
internal sealed class ModelHostOptionsValidator : IValidateOptions<ModelHostOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelHostOptions options) =>
        options.Validate() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
