using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Cohorts;

/// <summary>
/// The class-mean maps of each cohort (issue 18's "per cohort … the class-mean maps"): per pixel method, per cohort column
/// with at most <see cref="CohortOptions.MaxValues"/> values, per value and target class, the mean map on a grid of at most
/// <see cref="MaxSide"/> cells a side (each cell the mean over the channels and the cell's pixels). What a shard sends is
/// bounded by values × classes present × methods × cells, whatever the image size, and folds in shard order as the job's
/// own class means do, so sharding changes no bit. summary.json's <c>cohortMaps</c>, with one array per method and column.
/// </summary>
public sealed class CohortMapsFeature : Feature<CohortMapsPartial, CohortMapsFeature.Sums>
{
    public static readonly CohortMapsFeature Instance = new();

    /// <summary>The grid's longer side at most: a map of side s is averaged over blocks of ⌈s / 32⌉ pixels.</summary>
    public const int MaxSide = 32;

    public override string Name => "cohortMaps";

    public override string Section => "cohortMaps";

    /// <summary>The block side that brings a height × width map to a grid of at most <see cref="MaxSide"/> a side.</summary>
    public static int Factor(int height, int width) => Math.Max(1, (Math.Max(height, width) + MaxSide - 1) / MaxSide);

    public override CohortMapsPartial? Compute(ShardOutcome s)
    {
        if (s.Data.Cohorts is not { Length: > 0 } names || s.Data.Metadata is not { } metadata) return null;
        var r = s.Result;
        var methods = new List<CohortMapsMethod>();
        foreach (var method in r.Methods)
        {
            if (method.MapShape.Length < 2) continue; // a table's vector: its cohorts have per-feature attributions instead
            var (height, width) = (method.MapShape[^2], method.MapShape[^1]);
            var channels = method.MapSize / (height * width);
            var factor = Factor(height, width);
            var (h, w) = ((height + factor - 1) / factor, (width + factor - 1) / factor);
            var grids = new double[(method.Rows?.Length ?? r.Count) * h * w];
            var positions = method.Rows ?? [.. Enumerable.Range(0, r.Count)];
            for (var j = 0; j < positions.Length; j++)
                Reduce(method.Maps.AsSpan(j * method.MapSize, method.MapSize), channels, height, width, factor, grids.AsSpan(j * h * w, h * w));
            var columns = names.Select(name =>
            {
                var column = metadata.Single(c => c.Name == name);
                var cells = new SortedDictionary<(string? Value, int Class), CohortMapCell>(CellOrder.Instance);
                for (var j = 0; j < positions.Length; j++)
                {
                    var i = positions[j];
                    (string? Value, int Class) key = (column.Values[i], (int)r.Targets[i]);
                    if (!cells.TryGetValue(key, out var cell))
                    {
                        if (cells.Keys.Select(k => k.Value).Distinct().Count() >= CohortOptions.MaxValues && cells.Keys.All(k => k.Value != key.Value))
                            return new CohortMapsColumn(name, true, []);
                        cells[key] = cell = new CohortMapCell(key.Value, key.Class, 0, new double[h * w]);
                    }
                    cell.Count++;
                    var grid = grids.AsSpan(j * h * w, h * w);
                    for (var k = 0; k < grid.Length; k++) cell.Sum[k] += grid[k];
                }
                return new CohortMapsColumn(name, false, [.. cells.Values]);
            }).ToArray();
            methods.Add(new CohortMapsMethod(method.Name, h, w, factor, columns));
        }
        return methods.Count == 0 ? null : new CohortMapsPartial([.. methods]);
    }

    /// <summary>A [channels, height, width] map as its grid: each cell the mean over the channels and the block's pixels (edge blocks smaller).</summary>
    public static void Reduce(ReadOnlySpan<float> map, int channels, int height, int width, int factor, Span<double> grid)
    {
        var w = grid.Length / ((height + factor - 1) / factor);
        grid.Clear();
        for (var c = 0; c < channels; c++)
            for (var y = 0; y < height; y++)
                for (var x = 0; x < width; x++)
                    grid[y / factor * w + x / factor] += map[(c * height + y) * width + x];
        for (var cell = 0; cell < grid.Length; cell++)
        {
            var (gy, gx) = (cell / w, cell % w);
            var pixels = (Math.Min(height, (gy + 1) * factor) - gy * factor) * (Math.Min(width, (gx + 1) * factor) - gx * factor);
            grid[cell] /= (double)channels * pixels;
        }
    }

    public override void Write(BinaryWriter w, CohortMapsPartial p)
    {
        w.Write(p.Methods.Length);
        foreach (var m in p.Methods)
        {
            w.Write(m.Method);
            w.Write(m.Height);
            w.Write(m.Width);
            w.Write(m.Factor);
            w.Write(m.Columns.Length);
            foreach (var column in m.Columns)
            {
                w.Write(column.Name);
                w.Write(column.TooMany);
                w.Write(column.Cells.Length);
                foreach (var cell in column.Cells)
                {
                    w.Write(cell.Value is not null);
                    if (cell.Value is { } value) w.Write(value);
                    w.Write(cell.Class);
                    w.Write(cell.Count);
                    WriteArray(w, cell.Sum);
                }
            }
        }
    }

    public override CohortMapsPartial Read(BinaryReader r)
    {
        var methods = new CohortMapsMethod[r.ReadInt32()];
        for (var m = 0; m < methods.Length; m++)
        {
            var (name, h, w, factor) = (r.ReadString(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
            var columns = new CohortMapsColumn[r.ReadInt32()];
            for (var c = 0; c < columns.Length; c++)
            {
                var (column, tooMany) = (r.ReadString(), r.ReadBoolean());
                var cells = new CohortMapCell[r.ReadInt32()];
                for (var k = 0; k < cells.Length; k++)
                    cells[k] = new CohortMapCell(r.ReadBoolean() ? r.ReadString() : null, r.ReadInt32(), r.ReadInt64(), ReadArray<double>(r));
                columns[c] = new CohortMapsColumn(column, tooMany, cells);
            }
            methods[m] = new CohortMapsMethod(name, h, w, factor, columns);
        }
        return new CohortMapsPartial(methods);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(CohortMapsFeature feature) : FeatureSums<CohortMapsPartial>(feature.Decode)
    {
        // Per (method, column), in the order first seen: the grid and each (value, class)'s count and Σ grid (null: too many values).
        private readonly Dictionary<(string Method, string Column), Grid> _grids = [];
        private readonly List<Grid> _order = [];

        private sealed class Grid(string method, string column, int h, int w, int factor)
        {
            public string Method => method;
            public string Column => column;
            public (int H, int W, int Factor) Shape => (h, w, factor);
            public SortedDictionary<(string? Value, int Class), CohortMapCell>? Cells { get; set; } = new(CellOrder.Instance);
        }

        public override void Fold(CohortMapsPartial partial)
        {
            foreach (var m in partial.Methods)
                foreach (var column in m.Columns)
                {
                    if (!_grids.TryGetValue((m.Method, column.Name), out var grid))
                    {
                        _grids[(m.Method, column.Name)] = grid = new Grid(m.Method, column.Name, m.Height, m.Width, m.Factor);
                        _order.Add(grid);
                    }
                    if (grid.Cells is not { } cells) continue;
                    if (column.TooMany)
                    {
                        grid.Cells = null;
                        continue;
                    }
                    foreach (var cell in column.Cells)
                    {
                        if (!cells.TryGetValue((cell.Value, cell.Class), out var sum))
                            cells[(cell.Value, cell.Class)] = sum = new CohortMapCell(cell.Value, cell.Class, 0, new double[cell.Sum.Length]);
                        sum.Count += cell.Count;
                        Totals.Add(sum.Sum, cell.Sum);
                    }
                    if (cells.Keys.Select(k => k.Value).Distinct().Count() > CohortOptions.MaxValues) grid.Cells = null;
                }
        }

        public override object? Summarise(SummaryDraft draft)
        {
            if (_order.Count == 0) return null;
            var methods = new List<CohortMapsMethodSummary>();
            foreach (var method in _order.Select(g => g.Method).Distinct())
            {
                var (h, w, factor) = _order.First(g => g.Method == method).Shape;
                var columns = new List<CohortMapsColumnSummary>();
                foreach (var key in _order.Where(g => g.Method == method))
                {
                    if (key.Cells is not { } cells)
                    {
                        columns.Add(new CohortMapsColumnSummary(key.Column, null, [], [], [], null));
                        continue;
                    }
                    var values = cells.Keys.Select(k => k.Value).Distinct().ToArray();
                    var classes = cells.Keys.Select(k => k.Class).Distinct().Order().ToArray();
                    var counts = values.Select(v => classes.Select(c => cells.TryGetValue((v, c), out var cell) ? cell.Count : 0).ToArray()).ToArray();
                    var means = new float[(long)values.Length * classes.Length * h * w];
                    Array.Fill(means, float.NaN);
                    for (var v = 0; v < values.Length; v++)
                        for (var c = 0; c < classes.Length; c++)
                            if (cells.TryGetValue((values[v], classes[c]), out var cell))
                                for (var k = 0; k < h * w; k++) means[((long)v * classes.Length + c) * h * w + k] = (float)(cell.Sum[k] / cell.Count);
                    var file = OutputLayout.SummaryArray($"cohort-maps-{method}-{columns.Count}");
                    draft.Arrays.Add(new SummaryArray(file, [values.Length, classes.Length, h, w], means));
                    columns.Add(new CohortMapsColumnSummary(key.Column, file, [.. values.Select(v => v ?? CohortMapsSummary.Missing)],
                        classes, counts, [.. classes.Select(c => draft.Names[c])]));
                }
                methods.Add(new CohortMapsMethodSummary(method, h, w, factor, [.. columns]));
            }
            return new CohortMapsSummary(MaxSide, CohortOptions.MaxValues, [.. methods]);
        }
    }

    /// <summary>Missing first, then values in ordinal order; then classes.</summary>
    private sealed class CellOrder : IComparer<(string? Value, int Class)>
    {
        public static readonly CellOrder Instance = new();

        public int Compare((string? Value, int Class) a, (string? Value, int Class) b)
        {
            var byValue = a.Value is null ? b.Value is null ? 0 : -1 : b.Value is null ? 1 : string.CompareOrdinal(a.Value, b.Value);
            return byValue != 0 ? byValue : a.Class.CompareTo(b.Class);
        }
    }
}

public sealed record CohortMapsPartial(CohortMapsMethod[] Methods);

/// <summary>One method's cohort maps in a shard: its grid (<paramref name="Height"/> × <paramref name="Width"/> cells of <paramref name="Factor"/> pixels a side).</summary>
public sealed record CohortMapsMethod(string Method, int Height, int Width, int Factor, CohortMapsColumn[] Columns);

/// <param name="TooMany">The shard alone has more than <see cref="CohortOptions.MaxValues"/> values of the column: no maps travel.</param>
public sealed record CohortMapsColumn(string Name, bool TooMany, CohortMapCell[] Cells);

/// <summary>A cohort value's samples of one target class: how many, and the sum of their grids.</summary>
public sealed class CohortMapCell(string? value, int @class, long count, double[] sum)
{
    public string? Value => value;

    public int Class => @class;

    public long Count { get; set; } = count;

    public double[] Sum => sum;
}

/// <summary>summary.json's <c>cohortMaps</c>: per pixel method, per cohort column, the class-mean maps of each value on a coarse grid.</summary>
/// <param name="MaxSide">The grid's longer side at most.</param>
/// <param name="MaxValues">A column with more values has no cohort maps.</param>
public sealed record CohortMapsSummary(int MaxSide, int MaxValues, CohortMapsMethodSummary[] Methods)
{
    /// <summary>How a missing metadata value is named among a column's values.</summary>
    public const string Missing = "(missing)";
}

/// <param name="Height">The grid's rows: the map's height over <paramref name="Factor"/>, rounded up.</param>
/// <param name="Factor">The side of a grid cell in map pixels (1: the map itself).</param>
public sealed record CohortMapsMethodSummary(string Method, int Height, int Width, int Factor, CohortMapsColumnSummary[] Columns);

/// <summary>
/// One column's maps: <paramref name="File"/> is float32 [values, classes, height, width], NaN where a value has no sample of a
/// class; <paramref name="Counts"/> [values][classes] the samples behind each map. <paramref name="File"/> is null (and the rest
/// empty) when the column has more than <see cref="CohortMapsSummary.MaxValues"/> values.
/// </summary>
public sealed record CohortMapsColumnSummary(string Column, string? File, string[] Values, int[] Classes, long[][] Counts, string[]? ClassNames);

/// <summary>summary.json's <c>cohortMaps</c>, read as its record.</summary>
public static class SummaryCohortMaps
{
    extension(Summary summary)
    {
        /// <summary>Null unless the job has cohorts and a method with maps over pixels.</summary>
        public CohortMapsSummary? CohortMaps => summary.Section<CohortMapsSummary>(CohortMapsFeature.Instance.Section);
    }
}
