using System.Net;

namespace ExplainCluster.Grains.Hosting;

/// <summary>
/// How a silo (or the CLI as a client) finds the cluster. Bound from the configuration section "Cluster".
/// <c>localhost</c>: development clustering on loopback, one primary silo (the embedded <c>explain run</c>).
/// <c>redis</c>: membership in a Redis server (<see cref="Redis"/>); any silo may die and the rest carry on.
/// </summary>
public sealed class ClusterSettings
{
    public const string Section = "Cluster";
    public const string Localhost = "localhost";
    public const string RedisProvider = "redis";

    public string Provider { get; set; } = Localhost;

    /// <summary>StackExchange.Redis connection string, e.g. <c>127.0.0.1:6379</c>.</summary>
    public string? Redis { get; set; }

    public string ClusterId { get; set; } = "explaincluster";

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>The address other silos and clients reach this silo on (redis only; default: loopback).</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>localhost only: host:port of the primary silo; unset on the primary itself.</summary>
    public string? PrimarySilo { get; set; }

    /// <summary>
    /// How long a silo may miss its probes before the others declare it dead. Two missed probes of this
    /// length and the votes of the silos probing it: a dead silo's shards run again after about 2× this
    /// (docs/benchmarks.md measures it). Orleans' default is 5 s with three missed probes.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a starting silo retries its Redis (the membership store) before it gives up with one line:
    /// Redis coming up after the silos is normal when a cluster starts (compose, Kubernetes).
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>When set, every call to a job or shard grain must carry it (<see cref="SubmitToken"/>).</summary>
    public string? SubmitToken { get; set; }

    /// <summary>A file holding the submit token (a mounted Kubernetes Secret); used when <see cref="SubmitToken"/> is not set.</summary>
    public string? SubmitTokenFile { get; set; }

    /// <summary>The submit token this silo requires, if any.</summary>
    public string? RequiredToken() =>
        SubmitToken is { Length: > 0 } token ? token
        : SubmitTokenFile is { Length: > 0 } file ? Hosting.SubmitToken.Read(file, $"{Section}:SubmitTokenFile")
        : null;

    public string? Validate()
    {
        if (Provider is not (Localhost or RedisProvider)) return $"{Section}:Provider must be \"{Localhost}\" or \"{RedisProvider}\", not \"{Provider}\"";
        if (Provider == RedisProvider && string.IsNullOrWhiteSpace(Redis)) return $"{Section}:Redis must be set when {Section}:Provider is \"redis\" (a connection string such as 127.0.0.1:6379)";
        if (Provider == RedisProvider)
        {
            try
            {
                // "127.0.0.1:" parses to no server at all, which the client would only find out as a stack trace.
                if (StackExchange.Redis.ConfigurationOptions.Parse(Redis!).EndPoints.Count == 0)
                    return $"{Section}:Redis names no server: \"{Redis}\" (a connection string such as 127.0.0.1:6379)";
            }
            catch (ArgumentException e) { return $"{Section}:Redis is not a Redis connection string: {e.Message.Split('\n')[0]}"; }
        }
        if (string.IsNullOrWhiteSpace(ClusterId)) return $"{Section}:ClusterId must not be empty";
        if (SiloPort is < 1 or > 65535) return $"{Section}:SiloPort must be a port from 1 to 65535, not {SiloPort}";
        if (GatewayPort is < 0 or > 65535) return $"{Section}:GatewayPort must be a port from 0 (no gateway) to 65535, not {GatewayPort}";
        if (GatewayPort == SiloPort) return $"{Section}:GatewayPort must differ from {Section}:SiloPort ({SiloPort})";
        if (AdvertisedAddress is { Length: > 0 } a && !IPAddress.TryParse(a, out _)) return $"{Section}:AdvertisedAddress must be an IP address, not \"{a}\"";
        if (PrimarySilo is { Length: > 0 } p && !IPEndPoint.TryParse(p, out _)) return $"{Section}:PrimarySilo must be host:port, not \"{p}\"";
        if (ProbeTimeout < TimeSpan.FromMilliseconds(200) || ProbeTimeout > TimeSpan.FromMinutes(1)) return $"{Section}:ProbeTimeout must be from 00:00:00.2 to 00:01:00";
        if (ConnectTimeout < TimeSpan.FromSeconds(1) || ConnectTimeout > TimeSpan.FromHours(1)) return $"{Section}:ConnectTimeout must be from 00:00:01 to 01:00:00, not {ConnectTimeout}";
        if (SubmitTokenFile is { Length: > 0 } f && string.IsNullOrEmpty(SubmitToken) && !File.Exists(f)) return $"{Section}:SubmitTokenFile: {f} does not exist";
        return null;
    }
}
