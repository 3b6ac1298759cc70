using System.Buffers;

namespace ExplainCluster.Engine.Storage;

/// <summary>
/// A seekable in-memory stream over one array rented from the shared pool, given back when disposed: what a shard writes
/// (its parquet parts, its maps, its partials) is serialised into memory, written once and dropped, a few MB of large objects
/// a part. A <see cref="MemoryStream"/> allocates each of them anew (doubling as it grows, the last steps on the large object
/// heap, which only a full collection frees), and a job of many shards left a silo's heap growing with its length
/// (docs/benchmarks.md, "A table job's peak against the rows").
/// </summary>
/// <remarks>
/// <see cref="Written"/> views the rented array: it is valid until the stream grows again or is disposed, so a caller writes it
/// to its blob (or copies it) before either. Not thread-safe.
/// </remarks>
public sealed class PooledStream(int capacity = 0) : Stream
{
    private byte[] _buffer = capacity > 0 ? ArrayPool<byte>.Shared.Rent(capacity) : [];
    private int _length;
    private int _position;
    private bool _disposed;

    /// <summary>The bytes written so far, a view of the rented array.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>The bytes written so far, copied into an array of their length.</summary>
    public byte[] ToArray() => Written.ToArray();

    public override bool CanRead => false;

    public override bool CanSeek => true;

    public override bool CanWrite => !_disposed;

    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 and <= int.MaxValue ? (int)value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override void Write(ReadOnlySpan<byte> source)
    {
        var end = checked(_position + source.Length);
        Reserve(end);
        if (_position > _length) _buffer.AsSpan(_length, _position - _length).Clear();
        source.CopyTo(_buffer.AsSpan(_position));
        _position = end;
        _length = Math.Max(_length, end);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void WriteByte(byte value) => Write([value]);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken ct = default)
    {
        Write(source.Span);
        return ValueTask.CompletedTask;
    }

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => _length + offset,
    };

    public override void SetLength(long value)
    {
        if (value is < 0 or > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(value));
        Reserve((int)value);
        if (value > _length) _buffer.AsSpan(_length, (int)value - _length).Clear();
        _length = (int)value;
        _position = Math.Min(_position, _length);
    }

    public override void Flush() { }

    public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
        _length = _position = 0;
        _disposed = true;
        base.Dispose(disposing);
    }

    /// <summary>Room for <paramref name="size"/> bytes: a larger array rented (at least twice the size), the written bytes moved, the old one given back.</summary>
    private void Reserve(int size)
    {
        if (size <= _buffer.Length) return;
        ObjectDisposedException.ThrowIf(_disposed, this);
        var larger = ArrayPool<byte>.Shared.Rent((int)Math.Clamp(Math.Max(size, 2L * _buffer.Length), 256, Array.MaxLength));
        _buffer.AsSpan(0, _length).CopyTo(larger);
        if (_buffer.Length > 0) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = larger;
    }
}
