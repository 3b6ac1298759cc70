using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Stats;

/// <summary>Per-class sums kept only for the classes with samples, and their means as a summary array.</summary>
public static class ClassTables
{
    internal static ClassRow[] Rows(long[] counts, string[] names)
    {
        var present = ShardPartial.ClassRows(counts);
        return [.. present.Select((c, row) => new ClassRow(c, names[c], counts[c], row))];
    }

    /// <summary>float32 [classes with samples, ...shape]: each present class's sum divided by its count.</summary>
    internal static SummaryArray ClassMeans(string path, int[] shape, long[] counts, ClassSums sums)
    {
        var present = ShardPartial.ClassRows(counts);
        var size = sums.Size;
        var means = new float[(long)present.Length * size];
        for (var row = 0; row < present.Length; row++)
        {
            var c = present[row];
            var sum = sums[c];
            for (var j = 0; j < size; j++) means[(long)row * size + j] = (float)(sum[j] / counts[c]);
        }
        return new SummaryArray(path, [present.Length, .. shape.Select(d => (long)d)], means);
    }
}

/// <summary>A sum per class, allocated when the class's first sample arrives.</summary>
public sealed class ClassSums(int classes, int size)
{
    private readonly double[]?[] _sums = new double[classes][];

    public int Size => size;

    public double[] this[int c] => _sums[c] ?? throw new InvalidOperationException($"class {c} has no samples");

    /// <summary>Adds a partial's rows: one per class with a non-zero count, in class order.</summary>
    public void Add(long[] counts, double[] rows)
    {
        var row = 0;
        for (var c = 0; c < counts.Length; c++)
        {
            if (counts[c] == 0) continue;
            var sum = _sums[c] ??= new double[size];
            var part = rows.AsSpan(row++ * size, size);
            for (var j = 0; j < size; j++) sum[j] += part[j];
        }
        if (row * size != rows.Length) throw new ArgumentException($"{rows.Length} sums for {row} classes of {size} values", nameof(rows));
    }
}
