using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>What the error tree needs of the job in each shard: its options and the table's encodings.</summary>
public sealed record ErrorTreeInput(ErrorTreeSpec Options, TableSpec Table);

/// <summary>
/// The samples of a shard that are alike in every column the tree may split on: each feature's value as the model takes it
/// (a categorical feature's level index) and each metadata value; how many, how many misclassified, and per method the
/// samples it explained and the sums of their |attribution| per feature (method-major): <see cref="Sums"/> as doubles, exact
/// while the cell is one row, and <see cref="Exact"/> (Shewchuk's expansions) once it holds more, so that merging stays exact
/// and a table of distinct rows keeps one double per sum rather than an expansion.
/// </summary>
public sealed record ErrorCell(float[] Values, string?[] Metadata, long Count, long Errors, long[] Explained, double[] Sums, ExactSum[]? Exact = null)
{
    /// <summary>Sum <paramref name="k"/>, exactly (a new expansion for a one-row cell's).</summary>
    public ExactSum SumAt(int k)
    {
        if (Exact is { } exact) return exact[k];
        var sum = new ExactSum();
        sum.Add(Sums[k]);
        return sum;
    }

    /// <summary>The two cells' rows together: counts added, sums added exactly.</summary>
    public ErrorCell Merge(ErrorCell other)
    {
        var exact = Enumerable.Range(0, Sums.Length).Select(k =>
        {
            var sum = SumAt(k).Copy();
            sum.Add(other.SumAt(k));
            return sum;
        }).ToArray();
        return this with
        {
            Count = Count + other.Count, Errors = Errors + other.Errors, Explained = [.. Explained.Zip(other.Explained, (a, b) => a + b)],
            Sums = [.. exact.Select(e => e.Value)], Exact = exact,
        };
    }
}

/// <summary>
/// A shard's error-tree partial: the job's options and columns (to check every shard agrees), its samples and errors, and its
/// cells; none when it has more than <see cref="ErrorTreeFeature.MaxCells"/> (<see cref="TooMany"/>).
/// </summary>
public sealed record ErrorTreePartial(ErrorTreeSpec Options, TreeFeature[] Features, string[] Metadata, string[] Methods, ErrorCell[] Cells,
    long Samples = 0, long Errors = 0, bool TooMany = false);

/// <summary>
/// A table feature as the tree reads it: a categorical one's <see cref="Levels"/> (null: numeric), and how an encoded number
/// becomes the column's own (<see cref="Mean"/> + <see cref="Std"/> · value: a standardized feature's; 0 and 1 otherwise).
/// </summary>
public sealed record TreeFeature(string Name, string[]? Levels, double Mean, double Std)
{
    public static TreeFeature Of(TableFeature f) => f.Categorical || f.Encoding is FeatureEncoding.OneHot or FeatureEncoding.Index
        ? new(f.Name, f.Levels ?? [], 0, 1)
        : f.Encoding == FeatureEncoding.Standardize ? new(f.Name, null, f.Mean, f.Std) : new(f.Name, null, 0, 1);

    public bool Equals(TreeFeature? other) => other is not null && Name == other.Name && Mean.Equals(other.Mean) && Std.Equals(other.Std)
        && (Levels ?? []).SequenceEqual(other.Levels ?? []) && (Levels is null) == (other.Levels is null);

    public override int GetHashCode() => HashCode.Combine(Name, Mean, Std);
}

/// <summary>
/// Error cohorts of a table job (<see cref="ErrorTreeOptions"/>; summary.json's <c>errorTree</c>): a surrogate tree on
/// "misclassified" grown by <see cref="ErrorTreeGrower"/> from per-node histograms. A shard's partial is its samples folded
/// into cells (identical rows merged); the sums fold cells of equal key in shard order with integer counts and exact sums,
/// so the merged cells are the whole table's whatever the sharding. The summary then fixes the numeric bins once from the
/// exact distribution of each feature over every sample, and grows the tree level by level from histograms summed over the
/// cells: exactly the tree a histogram grower makes on the whole table at once. The price is the partial's size, which
/// grows with the shard's distinct rows (not with the tree): see docs/architecture.md, "Error cohorts".
/// </summary>
public sealed class ErrorTreeFeature : Feature<ErrorTreePartial, ErrorTreeFeature.Sums>
{
    public static readonly ErrorTreeFeature Instance = new();

    /// <summary>
    /// The most distinct rows (cells) the job keeps: past it, in a shard or merged, the cells are dropped and the summary says the
    /// tree was not grown, so that the coordinator's memory stays bounded (about 25–75 MB of cells at this cap, by the table's width).
    /// </summary>
    public const int MaxCells = 100_000;

    public override string Name => "errorTree";

    public override string Section => "errorTree";

    public override ErrorTreePartial? Compute(ShardOutcome s)
    {
        if (s.Data.ErrorTree is not { } input || s.Result.Labels is not { } labels) return null;
        var (r, table) = (s.Result, input.Table);
        var f = table.Features.Length;
        var width = table.Features.Sum(x => x.Width);
        var methods = r.Methods.Where(m => m.MapShape.SequenceEqual([f])).ToArray();
        // Each sample's row in a method's maps; −1 where the method's subset left it out.
        var rowOf = methods.Select(m =>
        {
            var rows = m.Rows is null ? Enumerable.Range(0, r.Count).ToArray() : Enumerable.Repeat(-1, r.Count).ToArray();
            if (m.Rows is { } explained) for (var row = 0; row < explained.Length; row++) rows[explained[row]] = row;
            return rows;
        }).ToArray();
        var metadata = table.Metadata.Select(name => s.Data.Metadata?.Single(c => c.Name == name).Values ?? new string?[r.Count]).ToArray();
        var cells = new Dictionary<string, ErrorCell>(StringComparer.Ordinal);
        for (var i = 0; i < r.Count; i++)
        {
            var (explained, sums) = (new long[methods.Length], new double[methods.Length * f]);
            for (var m = 0; m < methods.Length; m++)
            {
                if (rowOf[m][i] is var row && row < 0) continue;
                explained[m] = 1;
                for (var j = 0; j < f; j++) sums[m * f + j] = Math.Abs((double)methods[m].Maps[row * f + j]);
            }
            var cell = new ErrorCell(Values(table, s.Data.Raw.AsSpan(i * width, width)), [.. metadata.Select(m => m[i])], 1, labels[i] != r.Predictions[i] ? 1 : 0, explained, sums);
            var key = Key(cell.Values, cell.Metadata);
            cells[key] = cells.TryGetValue(key, out var found) ? found.Merge(cell) : cell;
        }
        var errors = cells.Values.Sum(c => c.Errors);
        var tooMany = cells.Count > MaxCells;
        return new ErrorTreePartial(input.Options, [.. table.Features.Select(TreeFeature.Of)], table.Metadata, [.. methods.Select(m => m.Name)],
            tooMany ? [] : [.. cells.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => c.Value)],
            r.Count, errors, tooMany);
    }

    /// <summary>A row's value per feature: a numeric feature's encoded value, a categorical one's level index.</summary>
    private static float[] Values(TableSpec table, ReadOnlySpan<float> vector)
    {
        var values = new float[table.Features.Length];
        var offset = 0;
        for (var j = 0; j < values.Length; j++)
        {
            var feature = table.Features[j];
            var slice = vector.Slice(offset, feature.Width);
            values[j] = feature.Encoding == FeatureEncoding.OneHot ? slice.IndexOf(1f) : slice[0];
            offset += feature.Width;
        }
        return values;
    }

    /// <summary>A cell's key: its values' bits and its metadata, so equal rows meet whatever shard they are in.</summary>
    private static string Key(float[] values, string?[] metadata) =>
        string.Join('\u001f', values.Select(v => BitConverter.SingleToInt32Bits(v).ToString("x8", System.Globalization.CultureInfo.InvariantCulture))
            .Concat(metadata.Select(m => m is null ? "\u0000" : "\u0001" + m)));

    public override void Write(BinaryWriter w, ErrorTreePartial p)
    {
        w.Write(p.Options.Depth);
        w.Write(p.Options.MinLeaf);
        w.Write(p.Options.Bins);
        w.Write(p.Features.Length);
        foreach (var x in p.Features)
        {
            w.Write(x.Name);
            w.Write(x.Levels is not null);
            if (x.Levels is not null) WriteNames(w, x.Levels);
            w.Write(x.Mean);
            w.Write(x.Std);
        }
        WriteNames(w, p.Metadata);
        WriteNames(w, p.Methods);
        w.Write(p.Cells.Length);
        foreach (var c in p.Cells)
        {
            WriteArray(w, c.Values);
            foreach (var m in c.Metadata)
            {
                w.Write(m is not null);
                if (m is not null) w.Write(m);
            }
            w.Write(c.Count);
            w.Write(c.Errors);
            WriteArray(w, c.Explained);
            WriteArray(w, c.Sums);
            w.Write(c.Exact is not null);
            if (c.Exact is { } exact) foreach (var sum in exact) WriteArray(w, sum.Partials);
        }
        w.Write(p.Samples);
        w.Write(p.Errors);
        w.Write(p.TooMany);
    }

    public override ErrorTreePartial Read(BinaryReader r)
    {
        var options = new ErrorTreeSpec(r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        var features = new TreeFeature[r.ReadInt32()];
        for (var j = 0; j < features.Length; j++) features[j] = new TreeFeature(r.ReadString(), r.ReadBoolean() ? ReadNames(r) : null, r.ReadDouble(), r.ReadDouble());
        var (metadata, methods) = (ReadNames(r), ReadNames(r));
        var cells = new ErrorCell[r.ReadInt32()];
        for (var i = 0; i < cells.Length; i++)
        {
            var values = ReadArray<float>(r);
            var meta = metadata.Select(_ => r.ReadBoolean() ? r.ReadString() : null).ToArray();
            var (count, errors, explained) = (r.ReadInt64(), r.ReadInt64(), ReadArray<long>(r));
            var sums = ReadArray<double>(r);
            cells[i] = new ErrorCell(values, meta, count, errors, explained, sums, r.ReadBoolean() ? [.. sums.Select(_ => ExactSum.Of(ReadArray<double>(r)))] : null);
        }
        return new ErrorTreePartial(options, features, metadata, methods, cells, r.ReadInt64(), r.ReadInt64(), r.ReadBoolean());
    }

    private static void WriteNames(BinaryWriter w, string[] names)
    {
        w.Write(names.Length);
        foreach (var name in names) w.Write(name);
    }

    private static string[] ReadNames(BinaryReader r) => [.. Enumerable.Range(0, r.ReadInt32()).Select(_ => r.ReadString())];

    public override Sums NewSums(int classes) => new(this);

    /// <summary>Every shard's cells, equal ones merged (counts added, |attribution| sums added exactly), in key order.</summary>
    public sealed class Sums(ErrorTreeFeature feature) : FeatureSums<ErrorTreePartial>(feature.Decode)
    {
        private ErrorTreePartial? _first;
        private readonly SortedDictionary<string, ErrorCell> _cells = new(StringComparer.Ordinal);
        private long _samples, _errors;

        /// <summary>Whether a shard, or the shards folded so far, had more than <see cref="MaxCells"/> distinct rows.</summary>
        public bool TooMany { get; private set; }

        public override void Fold(ErrorTreePartial partial)
        {
            _first ??= partial with { Cells = [], Samples = 0, Errors = 0 };
            if (_first.Options != partial.Options || !_first.Features.SequenceEqual(partial.Features) || !_first.Metadata.SequenceEqual(partial.Metadata)
                || !_first.Methods.SequenceEqual(partial.Methods))
                throw new ArgumentException("error-tree partials of different options or columns", nameof(partial));
            (_samples, _errors) = (_samples + partial.Samples, _errors + partial.Errors);
            if (TooMany) return;
            foreach (var cell in partial.Cells)
            {
                var key = Key(cell.Values, cell.Metadata);
                if (!_cells.TryGetValue(key, out var total))
                {
                    _cells[key] = cell;
                    continue;
                }
                _cells[key] = total.Merge(cell);
            }
            if (!partial.TooMany && _cells.Count <= MaxCells) return;
            TooMany = true;
            _cells.Clear();
        }

        /// <summary>The merged cells in key order (a test's view of what the tree is grown from).</summary>
        public IReadOnlyCollection<ErrorCell> Cells => _cells.Values;

        public override object? Summarise(SummaryDraft draft) =>
            _first is null ? null
            : TooMany ? ErrorTreeSummaries.NotGrown(_first, _samples, _errors, draft.Settings.Confidence,
                $"the table has more than {MaxCells} distinct rows, the most whose cells the job keeps; the level-by-level pass that would grow it is not built yet")
            : ErrorTreeSummaries.Of(_first, [.. _cells.Values], draft.Settings.Confidence);
    }
}
