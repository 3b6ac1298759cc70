using System.Text.Json;
using ExplainCluster.Engine.Options;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Occlusion (Zeiler and Fergus 2014, as Captum's <c>Occlusion</c>): a window of shape <c>window</c> (one size per
/// dimension of a sample, channels included) slides by <c>stride</c>; at each of its positions the covered inputs
/// are replaced by the baseline and the target's logit drop y(x) − y(occluded) is credited to every covered input.
/// An input's attribution is the mean drop over the windows that cover it. As Captum, a dimension has
/// ⌈(D − w) / s⌉ + 1 positions, the last window cropped at the edge, and the stride may not exceed the window
/// where the window is smaller than the input. The n × positions occluded inputs are built and run chunk by
/// chunk within the row budget; no gradients.
/// </summary>
public sealed class Occlusion(int[] window, int[] strides, Baseline baseline, int? maxRows) : IAttributionMethod
{
    public const string MethodName = "occlusion";

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    /// <summary>window: a list of positive integers; stride: one integer for every dimension or a list [1].</summary>
    public static (int[] Window, int[] Strides) ReadShape(OptionsReader o)
    {
        var window = o.Raw("window") is { ValueKind: JsonValueKind.Array } w ? Integers(w) : null;
        if (window is null or { Length: 0 })
            throw new ExplainException($"{o.Prefix}window: expected a list of positive integers, one per dimension of a sample (e.g. [1, 4, 4])");
        var strides = o.Raw("stride") switch
        {
            null => [.. window.Select(_ => 1)],
            { ValueKind: JsonValueKind.Number } s when s.TryGetInt32(out var one) && one > 0 => [.. window.Select(_ => one)],
            { ValueKind: JsonValueKind.Array } s when Integers(s) is { } list && list.Length == window.Length => list,
            _ => throw new ExplainException($"{o.Prefix}stride: expected a positive integer or a list of {window.Length} (one per window dimension)"),
        };
        return (window, strides);
    }

    private static int[]? Integers(JsonElement list)
    {
        var values = list.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i > 0 ? i : 0).ToArray();
        return values.Contains(0) ? null : values;
    }

    public MethodOutput Attribute(MethodBatch batch)
    {
        var x = batch.Input;
        long[] shape = [.. x.shape.Skip(1)];
        var counts = Counts(shape);
        var positions = counts.Aggregate(1L, (a, c) => a * c);
        var n = x.shape[0];
        var rows = maxRows ?? batch.MaxRows;
        var reference = baseline.For(x);
        var scores = TargetGradients.Outputs(batch.Model, n * positions, (start, count) =>
        {
            // Rooted Scalars throughout (Scalars): this runs for every chunk of occluded inputs.
            var row = Scalars.Range(start, start + count, ScalarType.Int64, x.device);
            var sample = row.FloorDivided(positions);
            var mask = Masks(row.Modulo(positions), shape, counts, x.dtype);
            return (x.index_select(0, sample) * mask.OneMinus()).Plus(reference.index_select(0, sample) * mask);
        }, batch.Targets.repeat_interleave(positions), rows);
        var fx = batch.Shared.Logits.gather(1, batch.Targets.unsqueeze(1));
        var drops = (fx - scores.view(n, positions)).to(x.dtype);
        var size = shape.Aggregate(1L, (a, d) => a * d);
        var total = zeros(n, size, x.dtype, x.device);
        var covered = zeros(size, x.dtype, x.device);
        var perChunk = Math.Max(1, rows / n);
        for (long first = 0; first < positions; first += perChunk)
        {
            using var chunk = NewDisposeScope(); // a chunk's masks go with it; the sums accumulate in place
            var count = Math.Min(perChunk, positions - first);
            var masks = Masks(Scalars.Range(first, first + count, ScalarType.Int64, x.device), shape, counts, x.dtype).reshape(count, size);
            total.Accumulate(matmul(drops.narrow(1, first, count), masks));
            covered.Accumulate(masks.sum([0]));
        }
        return (total / covered).view(x.shape);
    }

    /// <summary>Window positions per dimension, as Captum: ⌈(D − w) / s⌉ + 1; a window or stride that does not fit is an error.</summary>
    private long[] Counts(long[] shape)
    {
        if (window.Length != shape.Length)
            throw new ExplainException(
                $"occlusion window [{string.Join(", ", window)}] has {window.Length} sizes; a sample is [{string.Join(", ", shape)}], so it needs {shape.Length}");
        var counts = new long[shape.Length];
        for (var d = 0; d < shape.Length; d++)
        {
            if (window[d] > shape[d])
                throw new ExplainException($"occlusion window [{string.Join(", ", window)}] exceeds a sample's shape [{string.Join(", ", shape)}]");
            if (window[d] < shape[d] && strides[d] > window[d])
                throw new ExplainException($"occlusion stride {strides[d]} exceeds the window's {window[d]} in dimension {d}: some inputs would never be occluded");
            counts[d] = (long)Math.Ceiling((shape[d] - window[d]) / (double)strides[d]) + 1;
        }
        return counts;
    }

    /// <summary>[m, ...shape] 1 inside the window at each position (position numbers as Captum's: the first dimension varies fastest).</summary>
    private Tensor Masks(Tensor position, long[] shape, long[] counts, ScalarType dtype)
    {
        var m = position.shape[0];
        var remaining = position;
        Tensor? mask = null;
        for (var d = 0; d < shape.Length; d++)
        {
            var start = remaining.Modulo(counts[d]).Times(strides[d]);
            remaining = remaining.FloorDivided(counts[d]);
            var index = Scalars.Range(0, shape[d], ScalarType.Int64, position.device).unsqueeze(0);
            var inside = (index >= start.unsqueeze(1)).logical_and(index < start.Plus(window[d]).unsqueeze(1)).to(dtype);
            var view = Enumerable.Repeat(1L, shape.Length + 1).ToArray();
            (view[0], view[d + 1]) = (m, shape[d]);
            mask = mask is null ? inside.view(view) : mask * inside.view(view);
        }
        return mask!.expand([m, .. shape]);
    }
}
