namespace ExplainCluster.Contracts;

/// <summary>
/// What a job writes of its per-sample maps (<c>maps</c>): the element type, the channels kept or summed, a coarser
/// resolution (area-averaged by integer factors), and which samples' maps are stored. Statistics are computed from the full
/// float32 maps whatever is chosen; only the files under <c>attributions/</c> change. The defaults are the full maps of
/// every sample.
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.MapsSpec")]
public sealed record MapsSpec(
    [property: Id(0)] MapDtype Dtype = MapDtype.Float32,
    [property: Id(1)] MapChannels Channels = MapChannels.Keep,
    [property: Id(2)] int[]? Resolution = null,
    [property: Id(3)] MapStore Store = MapStore.All,
    [property: Id(4)] double SubsetFraction = 1,
    [property: Id(5)] int SubsetSeed = 0)
{
    /// <summary>Today's maps: float32, every channel, full size, every sample.</summary>
    public static MapsSpec Default { get; } = new();
}

[GenerateSerializer, Alias("ec.MapDtype")]
public enum MapDtype
{
    Float32 = 0,
    /// <summary>IEEE half precision (numpy's <c>float16</c>, <c>&lt;f2</c>): half the bytes, about three significant digits.</summary>
    Float16 = 1,
}

[GenerateSerializer, Alias("ec.MapChannels")]
public enum MapChannels
{
    /// <summary>[c, h, w] as computed.</summary>
    Keep = 0,
    /// <summary>[h, w]: the channels summed, as most papers draw a gradient map.</summary>
    Sum = 1,
}

[GenerateSerializer, Alias("ec.MapStore")]
public enum MapStore
{
    All = 0,
    /// <summary>Only the samples of <see cref="MapsSpec.SubsetFraction"/> (by their seeded hash), each part with its index file.</summary>
    Subset = 1,
    /// <summary>No map files at all.</summary>
    None = 2,
}
