using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace ExplainCluster.Grains.Hosting;

public static class ClusteringExtensions
{
    /// <summary>The settings of section "Cluster", validated: a wrong value throws naming the key.</summary>
    public static ClusterSettings ClusterSettings(this IConfiguration configuration)
    {
        var settings = new ClusterSettings();
        try
        {
            configuration.GetSection(Hosting.ClusterSettings.Section).Bind(settings);
        }
        catch (InvalidOperationException e)
        {
            // The binder names the key in its message: "Failed to convert configuration value at 'Cluster:SiloPort' …".
            throw new ClusterSettingsException(e.Message.Split('\n')[0]);
        }
        if (settings.Validate() is { } problem) throw new ClusterSettingsException(problem);
        return settings;
    }

    /// <summary>Membership on loopback (a primary silo) or in Redis, with this silo's endpoints and probe timing.</summary>
    public static ISiloBuilder UseExplainClustering(this ISiloBuilder silo, ClusterSettings settings)
    {
        if (settings.Provider == Hosting.ClusterSettings.Localhost)
        {
            var primary = settings.PrimarySilo is { Length: > 0 } p ? IPEndPoint.Parse(p) : null;
            return silo.UseLocalhostClustering(settings.SiloPort, settings.GatewayPort, primary, settings.ClusterId, settings.ClusterId);
        }
        var advertised = Advertised(settings);
        silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, settings.ClusterId));
        silo.ConfigureEndpoints(advertised, settings.SiloPort, settings.GatewayPort, listenOnAnyHostAddress: !advertised.Equals(IPAddress.Loopback));
        silo.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(settings));
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            // A dead silo is declared after two missed probes; the survivors then re-run its shards.
            o.ProbeTimeout = settings.ProbeTimeout;
            o.NumMissedProbesLimit = 2;
            // When every silo died at once, nobody is left to probe them: silos that start next wait until the
            // table shows the old ones stale (three missed I-am-alive writes) before they can join. 3 s writes
            // keep that wait near 10 s instead of Orleans' default 15 minutes.
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(3);
            o.TableRefreshTimeout = TimeSpan.FromSeconds(5);
        });
        return silo;
    }

    /// <summary>Stops the silo with one line naming the setting when another process holds its silo or gateway port.</summary>
    public static void EnsurePortsFree(ClusterSettings settings)
    {
        var advertised = settings.Provider == Hosting.ClusterSettings.Localhost ? IPAddress.Loopback : Advertised(settings);
        var listening = advertised.Equals(IPAddress.Loopback) ? advertised : IPAddress.Any;
        PortCheck.EnsureFree(listening, settings.SiloPort, $"{Hosting.ClusterSettings.Section}:SiloPort");
        PortCheck.EnsureFree(listening, settings.GatewayPort, $"{Hosting.ClusterSettings.Section}:GatewayPort");
    }

    private static IPAddress Advertised(ClusterSettings settings) =>
        settings.AdvertisedAddress is { Length: > 0 } a ? IPAddress.Parse(a) : IPAddress.Loopback;

    /// <summary>The CLI's connection to a running cluster through its Redis membership table.</summary>
    public static IClientBuilder UseExplainClustering(this IClientBuilder client, ClusterSettings settings)
    {
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, settings.ClusterId));
        client.UseRedisClustering(o => o.ConfigurationOptions = RedisOptions(settings));
        // The gateway list comes from the membership table, where a silo that died with the rest can still
        // look active for a few seconds: read it again often, so the client finds the silos that replaced it.
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(2));
        return client;
    }

    /// <summary>Redis options that keep retrying while the server is away, instead of failing the silo at start.</summary>
    public static ConfigurationOptions RedisOptions(ClusterSettings settings)
    {
        var options = ConfigurationOptions.Parse(settings.Redis!);
        options.AbortOnConnectFail = false;
        return options;
    }
}

/// <summary>A wrong "Cluster:*" setting; the message names the key.</summary>
public sealed class ClusterSettingsException(string message) : Exception(message);
