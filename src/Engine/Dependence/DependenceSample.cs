using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Engine.Dependence;

/// <summary>
/// A shard's part of the dependence sample: its rows with the smallest keys <see cref="SampleSeeds.For"/>(seed, dataset index),
/// at most the sample's <paramref name="Size"/>, as the model receives them ([rows, width] row-major), with each row's
/// per-feature attributions by every method that has them (<paramref name="Attributions"/>: [rows, methods, features], NaN
/// where a method's subset left the row out), so the summary can set each feature's value against its attribution.
/// </summary>
public sealed record DependenceSamplePartial(int Width, int Size, long[] Index, ulong[] Key, float[] Rows, string[] Methods, int Features, float[] Attributions)
{
    public DependenceSamplePartial(int width, int size, long[] index, ulong[] key, float[] rows) : this(width, size, index, key, rows, [], 0, [])
    {
    }

    /// <summary>Attributions per row: every method's for every feature.</summary>
    public int Stride => Methods.Length * Features;
}

/// <summary>
/// The dependence views' sample (a bottom-k sketch): the <c>sample</c> rows of the whole table with the smallest keys of
/// (seed, dataset index). A shard sends its own smallest; the merge keeps the smallest of all, so the sample is the same simple
/// random sample without replacement however the table was sharded. Numeric grids are its quantiles, ICE curves its first rows
/// in key order, and permutation importance draws replacement values from it.
/// </summary>
public static class DependenceSample
{
    /// <summary>The shard's smallest-key rows; null when the job has no <c>dependence</c>.</summary>
    public static DependenceSamplePartial? Of(Jobs.ShardData data, IReadOnlyList<Jobs.MethodMaps>? methods = null)
    {
        if (data.Dependence is not { } spec || data.Features is not { } features) return null;
        var width = data.SampleShape.Aggregate(1, (a, b) => a * b);
        var picked = Enumerable.Range(0, data.Count).Select(i => (Key: SampleSeeds.For(spec.Seed, data.Start + i), Row: i))
            .OrderBy(x => x.Key).ThenBy(x => x.Row).Take(spec.Sample).ToArray();
        var rows = new float[picked.Length * width];
        for (var r = 0; r < picked.Length; r++) Array.Copy(data.Raw, (long)picked[r].Row * width, rows, (long)r * width, width);
        // The methods with one attribution per table feature (their maps are [features]), each picked row's.
        var attributed = (methods ?? []).Where(m => m.MapShape.SequenceEqual([features.Length])).ToArray();
        var f = features.Length;
        var attributions = new float[picked.Length * attributed.Length * f];
        Array.Fill(attributions, float.NaN);
        for (var k = 0; k < attributed.Length; k++)
        {
            var m = attributed[k];
            var mapRow = m.MapRows(data.Count);
            for (var r = 0; r < picked.Length; r++)
            {
                var j = mapRow[picked[r].Row];
                if (j >= 0) Array.Copy(m.Maps, (long)j * f, attributions, ((long)r * attributed.Length + k) * f, f);
            }
        }
        return new DependenceSamplePartial(width, spec.Sample, [.. picked.Select(p => data.Start + p.Row)], [.. picked.Select(p => p.Key)], rows,
            [.. attributed.Select(m => m.Name)], f, attributions);
    }

    /// <summary>The smallest <paramref name="size"/> rows of two samples by (key, index): associative, so any grouping of shards gives the same sample.</summary>
    public static DependenceSamplePartial Merge(DependenceSamplePartial a, DependenceSamplePartial b)
    {
        var size = a.Size;
        var all = a.Index.Select((index, r) => (a.Key[r], index, Source: a, Row: r))
            .Concat(b.Index.Select((index, r) => (b.Key[r], index, Source: b, Row: r)))
            .OrderBy(x => x.Item1).ThenBy(x => x.index).Take(size).ToArray();
        var width = a.Width;
        var rows = new float[all.Length * width];
        for (var r = 0; r < all.Length; r++) Array.Copy(all[r].Source.Rows, (long)all[r].Row * width, rows, (long)r * width, width);
        var stride = a.Stride;
        var attributions = new float[all.Length * stride];
        for (var r = 0; r < all.Length; r++) Array.Copy(all[r].Source.Attributions, (long)all[r].Row * stride, attributions, (long)r * stride, stride);
        return new DependenceSamplePartial(width, size, [.. all.Select(x => x.index)], [.. all.Select(x => x.Item1)], rows, a.Methods, a.Features, attributions);
    }

    /// <summary>
    /// Each feature's value in a sample row as the grids and draws take it: a numeric feature's encoded number, a categorical
    /// one's level index (the one-hot element set, or the index itself).
    /// </summary>
    public static float ValueOf(TableFeature feature, int offset, float[] rows, int row, int width)
    {
        var at = (long)row * width + offset;
        if (feature.Encoding != FeatureEncoding.OneHot) return rows[at];
        for (var l = 0; l < feature.Width; l++)
            if (rows[at + l] != 0) return l;
        return 0;
    }

    /// <summary>
    /// A numeric feature's grid: the sample's quantiles at levels j / (points − 1) by the inverted empirical CDF (numpy's
    /// <c>method="inverted_cdf"</c>: the smallest value whose rank reaches q·m, so each point is a value of the data), repeated
    /// values once. The first point is the sample's minimum and the last its maximum.
    /// </summary>
    public static float[] Quantiles(float[] values, int points)
    {
        var sorted = values.Order().ToArray();
        var m = sorted.Length;
        var grid = new List<float>();
        for (var j = 0; j < points; j++)
        {
            var rank = (int)Math.Ceiling((double)j / (points - 1) * m);
            var v = sorted[Math.Clamp(rank - 1, 0, m - 1)];
            if (grid.Count == 0 || grid[^1] != v) grid.Add(v);
        }
        return [.. grid];
    }

    /// <summary>
    /// The Dvoretzky–Kiefer–Wolfowitz bound on a sample's quantile levels: with probability <paramref name="confidence"/>, every
    /// grid point's level in the whole table is within ε = √(ln(2 / (1 − confidence)) / 2m) of its nominal level; 0 when the
    /// sample is the whole table.
    /// </summary>
    public static double QuantileError(int sampleRows, long tableRows, double confidence) =>
        sampleRows >= tableRows ? 0 : Math.Sqrt(Math.Log(2 / (1 - confidence)) / (2.0 * sampleRows));
}
