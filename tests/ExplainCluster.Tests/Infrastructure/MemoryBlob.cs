using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Tests.Infrastructure;

/// <summary>A file held in memory whose reads complete before they return, and which records the ranges read from it.</summary>
internal sealed class MemoryBlob(byte[] bytes) : IBlob
{
    /// <summary>Each ranged read: where it started and how many bytes it read.</summary>
    public List<(long Offset, int Count)> Reads { get; } = [];

    public string Location => "memory://t.parquet";

    public Task<bool> ExistsAsync(CancellationToken ct = default) => Task.FromResult(true);

    public Task<long> LengthAsync(CancellationToken ct = default) => Task.FromResult((long)bytes.Length);

    public Task<string> VersionAsync(CancellationToken ct = default) => Task.FromResult("1");

    public Task<byte[]> ReadRangeAsync(long offset, int count, CancellationToken ct = default)
    {
        Reads.Add((offset, count));
        return Task.FromResult(bytes[(int)offset..((int)offset + count)]);
    }

    public Task ReadRangeAsync(long offset, Memory<byte> destination, CancellationToken ct = default)
    {
        Reads.Add((offset, destination.Length));
        bytes.AsMemory((int)offset, destination.Length).CopyTo(destination);
        return Task.CompletedTask;
    }

    public Task<Stream> OpenReadAsync(CancellationToken ct = default) => Task.FromResult<Stream>(new MemoryStream(bytes, writable: false));

    public Task WriteAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default) => throw new NotSupportedException();

    public Task<bool> CreateAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default) => throw new NotSupportedException();

    public Task<bool> MoveToAsync(IBlob destination, CancellationToken ct = default) => throw new NotSupportedException();

    public Task DeleteTreeAsync(CancellationToken ct = default) => throw new NotSupportedException();

    public IBlob Child(string relativePath) => throw new NotSupportedException();
}
