using System.Text.Json;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// A k-means summary of a table method's background sample, as SHAP's <c>shap.kmeans</c>: <see cref="Clusters"/>
/// centroids of the sample's vectors, each weighted by its cluster's size, and each feature of a centroid then replaced
/// by the nearest value that feature takes in the sample, so a discrete feature keeps a value it can have (shap rounds
/// each column alone; here a one-hot group snaps as a whole to the nearest level seen, so it stays one level, and an
/// index-encoded feature to the nearest index seen). Lloyd's algorithm in double from k-means++ seeds, the best of
/// <see cref="Restarts"/> starts by inertia (scikit-learn's KMeans, which shap calls, keeps the best of 10 too); an
/// empty cluster keeps its centroid and is dropped at the end.
/// The sample is the one the selection pass chose (the same rows, in ascending dataset index, in every shard) and the
/// starts come from <see cref="Seed"/> alone, so every shard computes the same summary: sharding changes nothing.
/// </summary>
/// <param name="Clusters">K, at most the sample's rows (fewer centroids when the sample has fewer distinct rows).</param>
public sealed record KMeansBackground(int Clusters, long Seed)
{
    public const int Restarts = 10;

    public const int MaxIterations = 300;

    /// <summary>
    /// A table method's <c>background</c> option: <c>{"samples": N, "seed": s}</c> (the rows themselves, N = 100 by default)
    /// or <c>{"kmeans": K, "samples": N, "seed": s}</c> (their k-means summary, N = 1000 by default).
    /// </summary>
    public static (Subset Sample, KMeansBackground? Summary) Read(OptionsReader options, string field)
    {
        if (options.Raw(field) is not { ValueKind: JsonValueKind.Object } o || !o.TryGetProperty("kmeans", out _))
            return (Subset.ReadRows(options, field, 100), null);
        var path = options.Prefix + field;
        var reader = new OptionsReader(o, path + ".");
        var clusters = reader.Integer("kmeans", null, 1, 1000);
        var samples = reader.Integer("samples", 1000, 1, 100_000);
        var seed = reader.Integer("seed", 0, 0, int.MaxValue);
        reader.RejectUnread();
        if (clusters > samples)
            throw new ExplainException($"{path}.kmeans: {clusters} clusters of {samples} sampled rows; expected at most {path}.samples");
        return (Subset.Rows(samples, seed), new KMeansBackground(clusters, seed));
    }

    /// <summary>The summary of <paramref name="rows"/> [B, Width] (row-major): centroids [K', Width] and their cluster sizes [K'].</summary>
    public (float[] Centroids, double[] Weights) Summarise(ReadOnlySpan<float> rows, FeatureGroups features)
    {
        var width = features.Width;
        var count = rows.Length / width;
        var x = new double[rows.Length];
        for (var e = 0; e < x.Length; e++) x[e] = rows[e];

        (double[] Centroids, int[] Sizes, double Inertia)? best = null;
        for (var start = 0; start < Restarts; start++)
        {
            var run = Lloyd(x, count, width, Seeds(x, count, width, new Random(unchecked((int)SampleSeeds.For(Seed, start)))));
            if (best is null || run.Inertia < best.Value.Inertia) best = run;
        }
        var (centroids, sizes, _) = best!.Value;
        var kept = Enumerable.Range(0, sizes.Length).Where(c => sizes[c] > 0).ToArray();
        var summary = new float[kept.Length * width];
        for (var k = 0; k < kept.Length; k++)
            for (var f = 0; f < features.Names.Length; f++)
            {
                var (at, w) = (features.Offsets[f], features.Widths[f]);
                var centroid = centroids.AsSpan(kept[k] * width + at, w);
                var nearest = 0;
                var closest = double.PositiveInfinity;
                for (var r = 0; r < count; r++)
                {
                    var d = Distance(x.AsSpan(r * width + at, w), centroid);
                    if (d < closest) (closest, nearest) = (d, r);
                }
                rows.Slice(nearest * width + at, w).CopyTo(summary.AsSpan(k * width + at, w));
            }
        return (summary, [.. kept.Select(c => (double)sizes[c])]);
    }

    /// <summary>k-means++ seeds: the first row at random, then each next with probability ∝ its squared distance to the nearest seed so far.</summary>
    private double[] Seeds(double[] x, int count, int width, Random random)
    {
        var seeds = new List<int> { random.Next(count) };
        var nearest = new double[count];
        for (var r = 0; r < count; r++) nearest[r] = Distance(x.AsSpan(r * width, width), x.AsSpan(seeds[0] * width, width));
        while (seeds.Count < Clusters)
        {
            var total = nearest.Sum();
            if (total <= 0) break; // every row is a seed's duplicate: fewer distinct rows than clusters
            var u = random.NextDouble() * total;
            var pick = 0;
            while (pick < count - 1 && (u >= nearest[pick] || nearest[pick] == 0)) u -= nearest[pick++];
            seeds.Add(pick);
            for (var r = 0; r < count; r++) nearest[r] = Math.Min(nearest[r], Distance(x.AsSpan(r * width, width), x.AsSpan(pick * width, width)));
        }
        var centroids = new double[seeds.Count * width];
        for (var k = 0; k < seeds.Count; k++) x.AsSpan(seeds[k] * width, width).CopyTo(centroids.AsSpan(k * width, width));
        return centroids;
    }

    /// <summary>Lloyd's iterations until no row changes cluster: each row to its nearest centroid (the first on ties), each centroid its rows' mean.</summary>
    private static (double[] Centroids, int[] Sizes, double Inertia) Lloyd(double[] x, int count, int width, double[] centroids)
    {
        var k = centroids.Length / width;
        var assigned = new int[count];
        Array.Fill(assigned, -1);
        var sizes = new int[k];
        var inertia = 0.0;
        for (var iteration = 0; iteration < MaxIterations; iteration++)
        {
            var changed = false;
            inertia = 0;
            for (var r = 0; r < count; r++)
            {
                var (nearest, closest) = (0, double.PositiveInfinity);
                for (var c = 0; c < k; c++)
                {
                    var d = Distance(x.AsSpan(r * width, width), centroids.AsSpan(c * width, width));
                    if (d < closest) (closest, nearest) = (d, c);
                }
                changed |= assigned[r] != nearest;
                assigned[r] = nearest;
                inertia += closest;
            }
            if (!changed) break;
            var sums = new double[k * width];
            Array.Clear(sizes);
            for (var r = 0; r < count; r++)
            {
                sizes[assigned[r]]++;
                var sum = sums.AsSpan(assigned[r] * width, width);
                var row = x.AsSpan(r * width, width);
                for (var e = 0; e < width; e++) sum[e] += row[e];
            }
            for (var c = 0; c < k; c++)
                if (sizes[c] > 0)
                    for (var e = 0; e < width; e++) centroids[c * width + e] = sums[c * width + e] / sizes[c];
        }
        Array.Clear(sizes);
        foreach (var c in assigned) sizes[c]++;
        return (centroids, sizes, inertia);
    }

    private static double Distance(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var d = 0.0;
        for (var e = 0; e < a.Length; e++) d += (a[e] - b[e]) * (a[e] - b[e]);
        return d;
    }
}
