using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Output;

/// <summary>
/// The job file's <c>maps</c>: <c>{"dtype": "float32" | "float16", "channels": "keep" | "sum", "resolution": [h, w], "store":
/// "all" | "subset" | "none", "subset": {"fraction": f, "seed": s}}</c>, each optional (today's full float32 maps of every
/// sample). Read strictly here; the resolution is checked against the input's size once the dataset is open (<see cref="CheckInput"/>).
/// </summary>
public static class MapsOptions
{
    private const string Prefix = "maps.";

    public static MapsSpec? Read(JsonElement? element, DataSpec data)
    {
        if (element is not { } e) return null;
        if (e.ValueKind != JsonValueKind.Object) throw new ExplainException("maps: expected an object, e.g. {\"dtype\": \"float16\", \"resolution\": [56, 56]}");
        if (data.Table is not null)
            throw new ExplainException("maps: a table job writes one value per feature (attributions/METHOD/*.parquet); maps settings are for image and array inputs");
        var o = new OptionsReader(e, Prefix);
        var dtype = o.Choice("dtype", "float32", "float16") == "float16" ? MapDtype.Float16 : MapDtype.Float32;
        var channels = o.Choice("channels", "keep", "sum") == "sum" ? MapChannels.Sum : MapChannels.Keep;
        var resolution = o.Raw("resolution") is { } r ? Resolution(r) : null;
        var store = o.Choice("store", "all", "subset", "none") switch
        {
            "subset" => MapStore.Subset,
            "none" => MapStore.None,
            _ => MapStore.All,
        };
        var given = o.Raw("subset") is not null;
        if (store == MapStore.Subset && !given)
            throw new ExplainException("maps.subset: \"store\": \"subset\" needs the samples to keep, {\"fraction\": f, \"seed\": s}");
        if (store != MapStore.Subset && given) throw new ExplainException("maps.subset: only with \"store\": \"subset\"");
        var subset = store == MapStore.Subset ? Subset.Read(o) : Subset.All;
        if (subset.IsStratified)
            throw new ExplainException("maps.subset: perClass is not supported for the stored maps; give {\"fraction\": f, \"seed\": s}");
        o.RejectUnread();
        return new MapsSpec(dtype, channels, resolution, store, subset.Fraction, (int)subset.Seed);
    }

    private static int[] Resolution(JsonElement r) =>
        r.ValueKind == JsonValueKind.Array && r.GetArrayLength() == 2
            && r.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var v) && v >= 1)
            ? [.. r.EnumerateArray().Select(x => x.GetInt32())]
            : throw new ExplainException("maps.resolution: expected [h, w], two positive integers");

    /// <summary>
    /// The resolution against the input's shape ([c, h, w] or [h, w]): no larger than the input, and dividing it, as only
    /// integer factors are averaged (each stored value the mean of a whole block of pixels).
    /// </summary>
    public static void CheckInput(MapsSpec? maps, int[] sampleShape)
    {
        if (maps?.Resolution is not [var h, var w]) return;
        var shape = string.Join(", ", sampleShape);
        if (sampleShape.Length < 2) throw new ExplainException($"maps.resolution: the inputs are [{shape}], not images; leave resolution out");
        var (height, width) = (sampleShape[^2], sampleShape[^1]);
        if (h > height || w > width)
            throw new ExplainException($"maps.resolution: [{h}, {w}] is larger than the input's [{height}, {width}]; maps are only averaged down");
        if (height % h != 0 || width % w != 0)
            throw new ExplainException($"maps.resolution: [{h}, {w}] does not divide the input's [{height}, {width}]; only integer factors are supported (e.g. [{height / 2}, {width / 2}] if even)");
    }
}
