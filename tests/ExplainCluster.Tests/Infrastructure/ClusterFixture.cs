using ExplainCluster.Engine.Models;
using ExplainCluster.Grains.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>Real Orleans silos in this process, each with its own model host.</summary>
public abstract class ClusterFixture(short silos, params (string Key, string Value)[] settings) : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>The model host of the first silo.</summary>
    public ModelHost ModelHost => Cluster.Silos[0].ServiceProvider.GetRequiredService<ModelHost>();

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(silos);
        builder.ConfigureSiloHost((_, host) =>
        {
            host.Configuration["ModelHost:IntraOpThreads"] = "1";
            foreach (var (key, value) in settings) host.Configuration[key] = value;
        });
        builder.ConfigureSilo((_, silo) => silo.AddExplainCluster(silo.Configuration));
        builder.ConfigureClient(client => client.AddActivityPropagation());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

public sealed class OneSiloCluster() : ClusterFixture(1);

public sealed class ThreeSiloCluster() : ClusterFixture(3);

/// <summary>Two silos that send every shard's partial statistics by reference (through the output store).</summary>
public sealed class ByReferenceCluster() : ClusterFixture(2, ("ModelHost:MaxInlinePartialBytes", "0"));

/// <summary>One silo with small limits: 100 samples, 100 kB models, 10 kB samples (the demo model is 203 kB, its samples 3 kB).</summary>
public sealed class LimitedCluster() : ClusterFixture(1, ("Limits:MaxSamples", "100"), ("Limits:MaxModelBytes", "100000"), ("Limits:MaxSampleBytes", "10000"));

/// <summary>One silo with one model host thread and a 2 s Limits:BatchTimeout.</summary>
public sealed class BatchTimeoutCluster() : ClusterFixture(1, ("ModelHost:WorkerThreads", "1"), ("Limits:BatchTimeout", "00:00:02"));

/// <summary>A coordinator-only silo: it holds job grains and runs no shards.</summary>
public sealed class CoordinatorOnlyCluster() : ClusterFixture(1, ("ModelHost:Enabled", "false"));
