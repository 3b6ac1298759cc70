using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// Per-sample scalar columns of one method: mean |attribution|, max attribution, and the method's own columns;
/// NaN for a sample outside the method's subset, whose columns are then nullable (<see cref="Nullable"/>).
/// </summary>
public sealed record MethodScalars(string Name, float[] MeanAbs, float[] Max, IReadOnlyList<SampleColumn> Columns, bool Nullable = false);

/// <summary>
/// A computed shard's statistics, in plain C# over its arrays: kept off the model host's threads so that
/// tensor work never waits for them. Sums run in sample order in double, so they are reproducible.
/// </summary>
public static class ShardStatistics
{
    public static (ShardPartial Partial, MethodScalars[] Scalars) Build(ShardSpec shard, ShardResult r, ShardData data, double scale, string silo)
    {
        var classes = r.Classes;
        var predicted = new long[classes];
        foreach (var p in r.Predictions) predicted[p]++;

        // Inputs and every method are grouped by the same target class, so one count serves them all, and
        // sums are kept only for the classes present.
        var targetCounts = new long[classes];
        foreach (var t in r.Targets) targetCounts[t]++;

        var partials = new MethodPartial[r.Methods.Count];
        var scalars = new MethodScalars[r.Methods.Count];
        for (var m = 0; m < r.Methods.Count; m++)
        {
            var method = r.Methods[m];
            var size = method.MapSize;
            // A method with a subset explains some samples only: its own counts, rows for its own classes.
            var positions = method.Rows ?? [.. Enumerable.Range(0, r.Count)];
            var counts = method.Rows is null ? targetCounts : new long[classes];
            if (method.Rows is not null) foreach (var i in positions) counts[r.Targets[i]]++;
            var rowOf = new int[classes];
            var present = ShardPartial.ClassRows(counts);
            for (var k = 0; k < present.Length; k++) rowOf[present[k]] = k;
            var sums = new double[(long)present.Length * size];
            var absSums = new double[size];
            var meanAbs = Enumerable.Repeat(float.NaN, r.Count).ToArray();
            var max = Enumerable.Repeat(float.NaN, r.Count).ToArray();
            for (var j = 0; j < positions.Length; j++)
            {
                var i = positions[j];
                var k = rowOf[r.Targets[i]];
                var map = method.Maps.AsSpan(j * size, size);
                var (absTotal, rowMax) = Accumulate(map, sums.AsSpan(k * size, size), absSums);
                meanAbs[i] = (float)(absTotal / size);
                max[i] = rowMax;
            }
            partials[m] = new MethodPartial(method.Name, method.MapShape, counts, sums, absSums);
            scalars[m] = new MethodScalars(method.Name, meanAbs, max, method.Columns, Nullable: method.Rows is not null);
        }

        // Every feature's partial, as the feature encodes it (the methods' sums made above among them).
        var outcome = new ShardOutcome(shard, r, data, scale, partials, targetCounts, scalars);
        var features = FeatureRegistry.All.Select(f => f.Partial(outcome) is { } bytes ? new FeaturePartial(f.Name, bytes) : null).OfType<FeaturePartial>();
        return (new ShardPartial(shard.Index, r.Count, silo, r.Seconds, predicted, [.. features], 0), scalars);
    }

    /// <summary>sum += row and absSum += |row|; returns Σ |row| and max(row).</summary>
    private static (double AbsTotal, float Max) Accumulate(ReadOnlySpan<float> row, Span<double> sum, Span<double> absSum)
    {
        double total = 0;
        var max = float.NegativeInfinity;
        for (var j = 0; j < row.Length; j++)
        {
            var v = row[j];
            sum[j] += v;
            double a = Math.Abs(v);
            absSum[j] += a;
            total += a;
            if (v > max) max = v;
        }
        return (total, max);
    }
}
