using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace ExplainCluster.Engine.Storage;

/// <summary>Streams files into a hash of many: each file's bytes, after its name when a name is part of what is hashed.</summary>
public static class NamedHash
{
    /// <summary>Appends <paramref name="name"/> and a NUL, then <paramref name="blob"/>'s bytes.</summary>
    public static async Task AppendAsync(IncrementalHash hash, string name, IBlob blob, CancellationToken ct)
    {
        hash.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
        await AppendBytesAsync(hash, blob, ct);
    }

    /// <summary>Appends <paramref name="blob"/>'s bytes, streamed.</summary>
    public static async Task AppendBytesAsync(IncrementalHash hash, IBlob blob, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            await using var stream = await blob.OpenReadAsync(ct);
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0) hash.AppendData(buffer, 0, n);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
