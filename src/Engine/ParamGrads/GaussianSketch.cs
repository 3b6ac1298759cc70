using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>
/// The projection P [total parameters, D] of per-sample gradients, entries N(0, 1)/√D, never stored whole: a
/// layer's rows come in chunks of <see cref="ChunkRows"/>, each drawn on the CPU from its own generator seeded
/// by (seed, layer name, chunk index), so every machine and silo draws the same P whatever layers are selected.
/// Chunks are kept once drawn while they fit <c>cacheBytes</c>; past that, drawn again each time.
/// </summary>
public sealed class GaussianSketch(int dims, long seed, Device device, long cacheBytes) : IDisposable
{
    public const long ChunkRows = 4096;

    private readonly ConcurrentDictionary<(string Layer, long Chunk), Tensor> _cache = new();
    private long _cached;

    public int Dims { get; } = dims;

    /// <summary>Rows [chunk·ChunkRows, chunk·ChunkRows + rows) of the layer's block of P, [rows, D], on the device.</summary>
    public Tensor Rows(string layer, long chunk, long rows)
    {
        if (_cache.TryGetValue((layer, chunk), out var kept)) return kept;
        var drawn = Draw(layer, chunk, rows);
        if (Interlocked.Add(ref _cached, rows * Dims * sizeof(float)) > cacheBytes) return drawn;
        drawn.DetachFromDisposeScope();
        var stored = _cache.GetOrAdd((layer, chunk), drawn);
        if (!ReferenceEquals(stored, drawn)) drawn.Dispose();
        return stored;
    }

    /// <summary>The layer's block of P, [rows, D]: its chunks stacked (for checks on small models).</summary>
    public Tensor Block(string layer, long rows) =>
        cat(Enumerable.Range(0, (int)((rows + ChunkRows - 1) / ChunkRows))
            .Select(c => Rows(layer, c, Math.Min(ChunkRows, rows - c * ChunkRows)).clone()).ToList(), 0);

    private Tensor Draw(string layer, long chunk, long rows)
    {
        using var generator = new Generator(Seed(layer, chunk));
        using var scope = NewDisposeScope();
        using var scale = Math.Sqrt(Dims).ToScalar(); // held through the call (Methods.Scalars: a temporary can be freed mid-call)
        var values = randn([rows, Dims], ScalarType.Float32, CPU, generator: generator).div_(scale);
        return values.to(device).MoveToOuterDisposeScope();
    }

    /// <summary>splitmix64 over the seed, the layer name's FNV-1a hash and the chunk index: the same on every machine.</summary>
    private ulong Seed(string layer, long chunk)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(layer)) hash = (hash ^ b) * 1099511628211UL;
        var state = Mix((ulong)seed) ^ Mix(hash) ^ Mix((ulong)chunk + 0x632BE59BD9B4E019UL);
        return Mix(state);
    }

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public void Dispose()
    {
        foreach (var t in _cache.Values) t.Dispose();
        _cache.Clear();
    }
}
