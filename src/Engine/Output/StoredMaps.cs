using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Output;

/// <summary>
/// The maps as a job stores them (<see cref="MapsSpec"/>): from a method's full float32 maps [rows, ..MapShape] to the
/// rows it keeps, their channels summed and their planes averaged by blocks, encoded as float32 or float16. Maps over pixels
/// ([h, w] or [c, h, w]) lose their channels when summed; those at the input's size (<paramref name="InputShape"/>: saliency,
/// occlusion, lime) are averaged to the resolution, while maps computed at a layer's size (grad-cam's) are stored at that size.
/// Per-layer or per-feature vectors ([d]) only change type. Readers find the stored shape with <see cref="Shape"/> from
/// summary.json's full shape and the manifest (<see cref="Of"/>).
/// </summary>
public sealed record StoredMaps(MapsSpec Spec, int[] InputShape)
{
    /// <summary>How a completed job's maps were written (a manifest older than the setting: the defaults).</summary>
    public static StoredMaps Of(Manifest manifest) => new(manifest.Maps ?? MapsSpec.Default, manifest.SampleShape);

    /// <summary>Whether any map file was written (<c>"store": "none"</c> writes none).</summary>
    public bool Stored => Spec.Store != MapStore.None;

    /// <summary>The shape of one stored map, from the full map's shape.</summary>
    public int[] Shape(int[] mapShape)
    {
        if (mapShape.Length < 2) return mapShape;
        int[] plane = Spec.Resolution is { } r && AtInputSize(mapShape) ? r : [mapShape[^2], mapShape[^1]];
        return mapShape.Length == 3 && Spec.Channels == MapChannels.Keep ? [mapShape[0], .. plane] : plane;
    }

    private bool AtInputSize(int[] mapShape) => InputShape.Length >= 2 && mapShape[^2] == InputShape[^2] && mapShape[^1] == InputShape[^1];

    /// <summary>Whether the sample at dataset index <paramref name="index"/> has its maps stored.</summary>
    public bool Stores(long index) => Spec.Store switch
    {
        MapStore.All => true,
        MapStore.Subset => SubsetOf(Spec).Includes(index),
        _ => false,
    };

    /// <summary>The samples <c>"store": "subset"</c> keeps: each by its seeded hash, as a method's <c>{"fraction": f}</c> subset.</summary>
    public static Subset SubsetOf(MapsSpec spec) => new(spec.SubsetFraction, spec.SubsetSeed);

    /// <summary>
    /// <paramref name="rows"/> of <paramref name="maps"/> (full maps of shape <paramref name="mapShape"/>, one after another) as
    /// stored: channels summed when asked, then each plane's blocks averaged (in double, one float each), the mean over a block
    /// of (H/h) × (W/w) pixels as torch's <c>adaptive_avg_pool2d</c> computes it for integer factors.
    /// </summary>
    public float[] Reduce(ReadOnlySpan<float> maps, IReadOnlyList<int> rows, int[] mapShape)
    {
        var size = mapShape.Aggregate(1, (a, b) => a * b);
        var shape = Shape(mapShape);
        var storedSize = shape.Aggregate(1, (a, b) => a * b);
        var stored = new float[rows.Count * storedSize];
        if (mapShape.Length < 2)
        {
            for (var i = 0; i < rows.Count; i++) maps.Slice(rows[i] * size, size).CopyTo(stored.AsSpan(i * storedSize));
            return stored;
        }
        var (channels, height, width) = (mapShape.Length == 3 ? mapShape[0] : 1, mapShape[^2], mapShape[^1]);
        var (h, w) = (shape[^2], shape[^1]);
        if (height % h != 0 || width % w != 0)
            throw new InvalidOperationException($"maps [{string.Join(", ", mapShape)}] cannot be averaged to [{h}, {w}]");
        var (fy, fx) = (height / h, width / w);
        var outChannels = shape.Length == 3 ? channels : 1;
        var block = new double[h * w];
        for (var i = 0; i < rows.Count; i++)
        {
            var map = maps.Slice(rows[i] * size, size);
            for (var oc = 0; oc < outChannels; oc++)
            {
                Array.Clear(block);
                // Summed channels: every channel into one plane; kept: channel oc alone.
                var (first, last) = outChannels == 1 ? (0, channels) : (oc, oc + 1);
                for (var c = first; c < last; c++)
                    for (var y = 0; y < height; y++)
                        for (var x = 0; x < width; x++)
                            block[y / fy * w + x / fx] += map[(c * height + y) * width + x];
                var target = stored.AsSpan((i * outChannels + oc) * h * w, h * w);
                for (var k = 0; k < block.Length; k++) target[k] = (float)(block[k] / (fy * fx));
            }
        }
        return stored;
    }

    /// <summary>The settings in words, for the report's provenance: "float16, channels summed, 56 × 56, 10 % of the samples (seed 0)".</summary>
    public static string Describe(MapsSpec spec)
    {
        if (spec.Store == MapStore.None) return "none (\"store\": \"none\"): statistics were computed from the full maps, which were not written";
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return string.Join(", ",
            spec.Dtype == MapDtype.Float16 ? "float16" : "float32",
            spec.Channels == MapChannels.Sum ? "channels summed" : "every channel",
            spec.Resolution is [var h, var w] ? string.Create(inv, $"maps at the input's size area-averaged to {h} × {w}") : "full size",
            spec.Store == MapStore.Subset ? string.Create(inv, $"{spec.SubsetFraction:P0} of the samples (seed {spec.SubsetSeed})") : "every sample")
            + (spec == MapsSpec.Default ? "" : "; statistics were computed from the full float32 maps");
    }

    /// <summary>
    /// Stored values as a .npy file of <paramref name="shape"/>, float32 or float16 (each value rounded to the nearest half),
    /// written to <paramref name="target"/> through a pooled buffer.
    /// </summary>
    public Task WriteAsync(IBlob target, float[] values, IReadOnlyList<long> shape, CancellationToken ct) =>
        Spec.Dtype == MapDtype.Float16 ? NpyFormat.WriteAsync(target, Array.ConvertAll(values, v => (Half)v), shape, ct) : NpyFormat.WriteAsync(target, values, shape, ct);
}
