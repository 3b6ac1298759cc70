namespace ExplainCluster.Engine.Storage;

/// <summary>One object in a store (a local file or an Azure blob): ranged reads, whole writes.</summary>
public interface IBlob
{
    /// <summary>Where it is, as the user would write it.</summary>
    string Location { get; }

    Task<bool> ExistsAsync(CancellationToken ct = default);

    Task<long> LengthAsync(CancellationToken ct = default);

    /// <summary>
    /// A token that changes whenever the content may have (an Azure blob's ETag; a file's last write time and length), so that what
    /// was decoded from one version is never served for the next.
    /// </summary>
    Task<string> VersionAsync(CancellationToken ct = default);

    /// <summary>Its length and version (<see cref="VersionAsync"/>), or null when it does not exist: one request where the store allows.</summary>
    async Task<(long Length, string Version)?> StatAsync(CancellationToken ct = default) =>
        await ExistsAsync(ct) ? (await LengthAsync(ct), await VersionAsync(ct)) : null;

    /// <summary>Reads exactly <paramref name="count"/> bytes from <paramref name="offset"/>.</summary>
    Task<byte[]> ReadRangeAsync(long offset, int count, CancellationToken ct = default);

    /// <summary>Reads exactly <paramref name="destination"/>'s length in bytes from <paramref name="offset"/> into it (a buffer the caller reuses).</summary>
    Task ReadRangeAsync(long offset, Memory<byte> destination, CancellationToken ct = default);

    /// <summary>A forward-only stream over the whole object.</summary>
    Task<Stream> OpenReadAsync(CancellationToken ct = default);

    /// <summary>Writes the object whole, replacing any earlier version.</summary>
    Task WriteAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default);

    /// <summary>Writes the object only if it does not exist yet, atomically: false when it already did (two writers: one wins).</summary>
    Task<bool> CreateAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default);

    /// <summary>
    /// Moves this object to <paramref name="destination"/> (same store), replacing it; false when this
    /// object does not exist (already moved: moving is repeatable).
    /// </summary>
    Task<bool> MoveToAsync(IBlob destination, CancellationToken ct = default);

    /// <summary>Deletes this object and, taken as a folder, everything under it.</summary>
    Task DeleteTreeAsync(CancellationToken ct = default);

    /// <summary>The object at <paramref name="relativePath"/> under this one, taken as a folder.</summary>
    IBlob Child(string relativePath);
}
