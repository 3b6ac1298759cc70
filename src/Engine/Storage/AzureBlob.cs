using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ExplainCluster.Engine.Storage;

/// <param name="location">As the user wrote it; shown with its query (a SAS token) redacted.</param>
public sealed class AzureBlob(BlobContainerClient container, string name, string location) : IBlob
{
    private readonly BlobClient _blob = container.GetBlobClient(name);

    /// <summary>The location without its query, so children append paths to it.</summary>
    private readonly string _path = location.Split('?')[0];

    private readonly bool _hasQuery = location.Contains('?');

    /// <summary>The location's query ("?…", a SAS token), or "": the listed blobs are read with it.</summary>
    private readonly string _query = location.Contains('?') ? location[location.IndexOf('?')..] : "";

    public string Location => _hasQuery ? _path + "?" + Redaction.Marker : _path;

    public async Task<bool> ExistsAsync(CancellationToken ct = default) => (await _blob.ExistsAsync(ct)).Value;

    public async Task<long> LengthAsync(CancellationToken ct = default) =>
        (await _blob.GetPropertiesAsync(cancellationToken: ct)).Value.ContentLength;

    public async Task<string> VersionAsync(CancellationToken ct = default) =>
        (await _blob.GetPropertiesAsync(cancellationToken: ct)).Value.ETag.ToString();

    /// <summary>One GetProperties: a table's file is opened with its length and ETag, and a missing one is said so.</summary>
    public async Task<(long Length, string Version)?> StatAsync(CancellationToken ct = default)
    {
        try
        {
            var properties = (await _blob.GetPropertiesAsync(cancellationToken: ct)).Value;
            return (properties.ContentLength, properties.ETag.ToString());
        }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    public async Task<byte[]> ReadRangeAsync(long offset, int count, CancellationToken ct = default)
    {
        var buffer = new byte[count];
        await ReadRangeAsync(offset, buffer, ct);
        return buffer;
    }

    public async Task ReadRangeAsync(long offset, Memory<byte> destination, CancellationToken ct = default)
    {
        var options = new BlobDownloadOptions { Range = new HttpRange(offset, destination.Length) };
        var content = (await _blob.DownloadContentAsync(options, ct)).Value.Content.ToMemory();
        if (content.Length != destination.Length) throw new EndOfStreamException($"{Location} ends before byte {offset + destination.Length}");
        content.CopyTo(destination);
    }

    public async Task<Stream> OpenReadAsync(CancellationToken ct = default) =>
        await _blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false), ct);

    /// <summary>
    /// Writes, creating the container only when it is missing: a SAS scoped to a container (how Azure users
    /// share one) may write blobs but not create containers, and most writes need no container request at all.
    /// </summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default)
    {
        try
        {
            await _blob.UploadAsync(new BinaryData(content), overwrite: true, ct);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            await container.CreateIfNotExistsAsync(cancellationToken: ct);
            await _blob.UploadAsync(new BinaryData(content), overwrite: true, ct);
        }
    }

    public async Task<bool> CreateAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default)
    {
        var options = new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } };
        try
        {
            try { await _blob.UploadAsync(new BinaryData(content), options, ct); }
            catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
            {
                await container.CreateIfNotExistsAsync(cancellationToken: ct);
                await _blob.UploadAsync(new BinaryData(content), options, ct);
            }
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return false;
        }
    }

    public async Task<bool> MoveToAsync(IBlob destination, CancellationToken ct = default)
    {
        if (destination is not AzureBlob target) throw new ArgumentException("a blob moves within its own store", nameof(destination));
        if (!await ExistsAsync(ct)) return false;
        // A server-side copy within the account (no bytes through this process), then the source goes.
        var copy = await target._blob.StartCopyFromUriAsync(_blob.Uri, cancellationToken: ct);
        await copy.WaitForCompletionAsync(ct);
        await _blob.DeleteIfExistsAsync(cancellationToken: ct);
        return true;
    }

    public async Task DeleteTreeAsync(CancellationToken ct = default)
    {
        try
        {
            await _blob.DeleteIfExistsAsync(cancellationToken: ct);
            var prefix = name.Length == 0 ? "" : name.TrimEnd('/') + "/";
            // Each delete is a round trip: several at once, as the listing comes (a job's staging holds a file or more per shard).
            await Parallel.ForEachAsync(container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, ct),
                new ParallelOptions { MaxDegreeOfParallelism = LocalBlob.Deleting, CancellationToken = ct },
                async (item, token) => await container.DeleteBlobIfExistsAsync(item.Name, cancellationToken: token));
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            // Nothing to delete. (Listing, not asking for the container's properties: a container SAS may not.)
        }
    }

    /// <summary>
    /// The blobs directly under this one taken as a folder (none under a further '/'), as locations to read (with this
    /// location's query, a SAS token, when it has one), in ordinal order of their names; none when the container is missing.
    /// </summary>
    public async Task<string[]> ListAsync(CancellationToken ct = default)
    {
        var prefix = name.Length == 0 ? "" : name.TrimEnd('/') + "/";
        var names = new List<string>();
        try
        {
            await foreach (var item in container.GetBlobsAsync(new GetBlobsOptions { Prefix = prefix }, ct))
                if (item.Name[prefix.Length..] is var leaf && !leaf.Contains('/')) names.Add(leaf);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
        {
            return [];
        }
        return [.. names.Order(StringComparer.Ordinal).Select(leaf => _path.TrimEnd('/') + "/" + leaf + _query)];
    }

    public IBlob Child(string relativePath)
    {
        var childName = name.Length == 0 ? relativePath : name.TrimEnd('/') + "/" + relativePath;
        return new AzureBlob(container, childName, _path.TrimEnd('/') + "/" + relativePath + (_hasQuery ? "?" + Redaction.Marker : ""));
    }
}
