using Azure.Storage.Blobs;

namespace ExplainCluster.Engine.Storage;

/// <summary>
/// Turns a location into a blob: a local path (relative to <c>baseDirectory</c>), <c>az://container/path</c>
/// (account from the connection string) or a full <c>https://…</c> / <c>http://…</c> blob URL.
/// </summary>
public sealed class BlobLocator(string? connectionString)
{
    public string? ConnectionString { get; } = string.IsNullOrWhiteSpace(connectionString) ? null : connectionString;

    public static bool IsRemote(string location) =>
        location.StartsWith("az://", StringComparison.OrdinalIgnoreCase) ||
        location.StartsWith("https://", StringComparison.OrdinalIgnoreCase) ||
        location.StartsWith("http://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Makes a relative local path absolute against <paramref name="baseDirectory"/>; leaves URIs alone. A
    /// location with control characters, or an http(s) one that is no URL, is an <see cref="ExplainException"/>.
    /// </summary>
    public static string Absolute(string location, string baseDirectory)
    {
        if (location.Any(char.IsControl)) throw new ExplainException($"location '{location}' holds control characters");
        if (!IsRemote(location)) return Path.GetFullPath(Path.Combine(baseDirectory, location));
        if (!location.StartsWith("az://", StringComparison.OrdinalIgnoreCase) && !Uri.TryCreate(location, UriKind.Absolute, out _))
            throw new ExplainException($"location '{location}' is not a valid URL");
        return location;
    }

    public IBlob Resolve(string location)
    {
        if (location.StartsWith("az://", StringComparison.OrdinalIgnoreCase))
        {
            var rest = location["az://".Length..];
            var slash = rest.IndexOf('/');
            var container = slash < 0 ? rest : rest[..slash];
            var name = slash < 0 ? "" : rest[(slash + 1)..];
            if (container.Length == 0) throw new ExplainException($"'{location}' names no container (az://container/path)");
            return new AzureBlob(Service(location).GetBlobContainerClient(container), name, location);
        }
        if (IsRemote(location))
        {
            var uri = new Uri(location);
            var parts = new BlobUriBuilder(uri);
            var container = ConnectionString is null || !string.IsNullOrEmpty(uri.Query)
                ? new BlobContainerClient(new BlobUriBuilder(uri) { BlobName = "" }.ToUri(), Options)
                : Service(location).GetBlobContainerClient(parts.BlobContainerName);
            return new AzureBlob(container, parts.BlobName, location);
        }
        return new LocalBlob(location);
    }

    /// <summary>
    /// Storage faults are retried with exponential backoff (0.25 s doubling to 4 s, 10 retries: about 30 s
    /// in all), so a storage outage of 10 s delays a job instead of failing it. Past that, the shard's
    /// attempt fails as an infrastructure fault and the job runs it again (up to 5 attempts).
    /// </summary>
    public static readonly BlobClientOptions Options = new()
    {
        Retry =
        {
            Mode = Azure.Core.RetryMode.Exponential,
            MaxRetries = 10,
            Delay = TimeSpan.FromMilliseconds(250),
            MaxDelay = TimeSpan.FromSeconds(4),
            NetworkTimeout = TimeSpan.FromSeconds(60),
        },
    };

    private BlobServiceClient Service(string location) =>
        new(ConnectionString ?? throw new ExplainException(
            $"'{location}' needs the Azure connection string: set Storage:ConnectionString (env Storage__ConnectionString)"), Options);
}
