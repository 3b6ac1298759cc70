namespace ExplainCluster.Engine.Storage;

/// <summary>
/// A read-only, seekable stream over a blob's ranged reads, buffered by <paramref name="bufferSize"/> bytes: lets a
/// reader that seeks (Parquet's footer, then a row group's pages) read a local file or an Azure blob alike, without
/// reading the whole object. The buffer is allocated once and refilled in place; a read larger than it goes straight
/// to the caller's memory (a Parquet row group of 32 columns refilled a fresh 1 MiB buffer 16 to 32 times). It fills the
/// whole buffer only for reads that run on from the last fill: a read after a seek fills what it needs (at least 64 KiB).
/// </summary>
public sealed class BlobStream(IBlob blob, long length, int bufferSize = 1 << 20) : Stream
{
    private const int MinFill = 64 * 1024;

    private byte[]? _buffer;
    private long _bufferStart;
    private int _buffered;

    public override bool CanRead => true;

    public override bool CanSeek => true;

    public override bool CanWrite => false;

    public override long Length => length;

    public override long Position { get; set; }

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
    {
        if (Position >= length || destination.Length == 0) return 0;
        if (Position < _bufferStart || Position >= _bufferStart + _buffered)
        {
            if (destination.Length >= bufferSize)
            {
                var direct = (int)Math.Min(destination.Length, length - Position);
                await blob.ReadRangeAsync(Position, destination[..direct], ct);
                Position += direct;
                return direct;
            }
            // A full buffer only where the reads run on from the last fill; a first read or one after a seek fills what it asks
            // for, at least 64 KiB, and never more than what is left from here. Opening a Parquet file reads its first 4 bytes,
            // its last 8 and its footer: a 1 MiB buffer filled for the first 4 allocated 1 MiB for every staged part opened.
            var sequential = _buffered > 0 && Position == _bufferStart + _buffered;
            var wanted = sequential ? bufferSize : Math.Min(bufferSize, Math.Max(destination.Length, MinFill));
            var size = (int)Math.Min(wanted, length - Position);
            if (_buffer is null || _buffer.Length < size) _buffer = new byte[size];
            _bufferStart = Position;
            _buffered = size;
            await blob.ReadRangeAsync(Position, _buffer.AsMemory(0, _buffered), ct);
        }
        var offset = (int)(Position - _bufferStart);
        var count = Math.Min(destination.Length, _buffered - offset);
        _buffer.AsMemory(offset, count).CopyTo(destination);
        Position += count;
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    // Synchronous reads block on the ranged read: they come only from readers without an async path.
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => Position + offset,
        _ => length + offset,
    };

    public override void Flush() { }

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
