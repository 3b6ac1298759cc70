using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Cohorts;

/// <summary>
/// What one statistic of a cohort is of: a method's per-sample mean |map| (the samples table's <c>METHOD_mean_abs</c>;
/// <see cref="Feature"/> and <see cref="Metric"/> null), a table feature's |attribution| (<see cref="Feature"/>), or a
/// trust metric of a method (<see cref="Metric"/>).
/// </summary>
public sealed record CohortKey(string Method, string? Feature, string? Metric);

/// <summary>A shard's cohort sums: per cohort column, per distinct value, the counts and each key's moments.</summary>
public sealed record CohortPartial(CohortKey[] Keys, CohortColumnPartial[] Columns);

/// <param name="TooMany">The shard alone has more than <see cref="CohortOptions.MaxDistinct"/> values: no sums travel.</param>
/// <param name="Values">Missing (null) first, then the values in ordinal order.</param>
public sealed record CohortColumnPartial(string Name, bool TooMany, CohortValueSums[] Values);

/// <summary>
/// One value's samples: how many, how many labelled and correct, each key's moments (over the samples it has a value for), and
/// its labelled samples' calibration in the error analysis' bins of confidence (<see cref="CohortCalibrationSums"/>).
/// </summary>
public sealed class CohortValueSums(string? value, long count, long labelled, long correct, ExactMoments[] moments, CohortCalibrationSums calibration)
{
    public CohortValueSums(string? value, int keys) : this(value, 0, 0, 0, [.. Enumerable.Range(0, keys).Select(_ => new ExactMoments())], new CohortCalibrationSums())
    {
    }

    public CohortCalibrationSums Calibration => calibration;

    /// <summary>The metadata value; null for a missing one.</summary>
    public string? Value => value;

    public long Count { get; private set; } = count;

    public long Labelled { get; private set; } = labelled;

    public long Correct { get; private set; } = correct;

    public ExactMoments[] Moments => moments;

    public CohortValueSums Copy() => new(value, Count, Labelled, Correct, [.. moments.Select(m => m.Copy())], calibration.Copy());

    /// <param name="confidence">The sample's softmax probability of its predicted class (the samples table's <c>confidence</c>).</param>
    public void AddSample(bool? correct, double confidence)
    {
        Count++;
        if (correct is not { } c) return;
        Labelled++;
        if (c) Correct++;
        calibration.Add(confidence, c);
    }

    /// <summary>Adds <paramref name="other"/>'s samples; <paramref name="sign"/> −1 takes them away.</summary>
    public void Add(CohortValueSums other, int sign = 1)
    {
        (Count, Labelled, Correct) = (Count + sign * other.Count, Labelled + sign * other.Labelled, Correct + sign * other.Correct);
        for (var k = 0; k < moments.Length; k++) moments[k].Add(other.Moments[k], sign);
        calibration.Add(other.Calibration, sign);
    }
}

/// <summary>
/// A cohort's labelled samples by confidence, in the error analysis' bins (<see cref="ErrorStatistics.Bin"/>): per bin the count,
/// the correct ones and the exact sum of confidences, so the cohort's mean confidence and expected calibration error fold
/// exactly over shards.
/// </summary>
public sealed class CohortCalibrationSums(long[] count, long[] correct, ExactSum[] confidence)
{
    public CohortCalibrationSums() : this(new long[ErrorStatistics.CalibrationBins], new long[ErrorStatistics.CalibrationBins],
        [.. Enumerable.Range(0, ErrorStatistics.CalibrationBins).Select(_ => new ExactSum())])
    {
    }

    public long[] Count => count;

    public long[] Correct => correct;

    public ExactSum[] Confidence => confidence;

    public CohortCalibrationSums Copy() => new([.. count], [.. correct], [.. confidence.Select(c => c.Copy())]);

    public void Add(double value, bool right)
    {
        var bin = ErrorStatistics.Bin(value);
        count[bin]++;
        if (right) correct[bin]++;
        confidence[bin].Add(value);
    }

    public void Add(CohortCalibrationSums other, int sign = 1)
    {
        for (var b = 0; b < count.Length; b++)
        {
            count[b] += sign * other.Count[b];
            correct[b] += sign * other.Correct[b];
            confidence[b].Add(other.Confidence[b], sign);
        }
    }

    public void Write(BinaryWriter w)
    {
        PartialIO.Write(w, count);
        PartialIO.Write(w, correct);
        foreach (var c in confidence) PartialIO.Write(w, c.Partials);
    }

    public static CohortCalibrationSums Read(BinaryReader r) =>
        new(PartialIO.Read<long>(r), PartialIO.Read<long>(r),
            [.. Enumerable.Range(0, ErrorStatistics.CalibrationBins).Select(_ => ExactSum.Of(PartialIO.Read<double>(r)))]);
}

/// <summary>
/// Cohorts by metadata (<see cref="CohortOptions"/>): per cohort column and value, the samples, the accuracy, each method's
/// mean |attribution| (per feature for a table) and each trust metric's mean, against the rest of the samples. A shard's
/// partial holds counts and exact sums (<see cref="ExactSum"/>) per value it has; the folded sums hold every value of the
/// job (up to <see cref="CohortOptions.MaxDistinct"/>), and the summary picks the cohorts shown (<see cref="CohortOptions.MaxValues"/>),
/// so the section is the same bit for bit however the job was sharded. summary.json's <c>cohorts</c>.
/// </summary>
public sealed class CohortsFeature : Feature<CohortPartial, CohortsFeature.Sums>
{
    public static readonly CohortsFeature Instance = new();

    public override string Name => "cohorts";

    public override string Section => "cohorts";

    public override CohortPartial? Compute(ShardOutcome s)
    {
        if (s.Data.Cohorts is not { Length: > 0 } names || s.Data.Metadata is not { } metadata) return null;
        var (keys, values) = KeysOf(s);
        var r = s.Result;
        var columns = names.Select(name =>
        {
            var column = metadata.Single(c => c.Name == name);
            CohortValueSums? missing = null;
            var byValue = new Dictionary<string, CohortValueSums>(StringComparer.Ordinal);
            for (var i = 0; i < r.Count; i++)
            {
                var value = column.Values[i];
                var sums = value is null ? missing ??= new CohortValueSums(null, keys.Length)
                    : byValue.TryGetValue(value, out var found) ? found : byValue[value] = new CohortValueSums(value, keys.Length);
                // An identifier-like column stops here: its sums would grow with the shard and never be shown.
                if (byValue.Count + (missing is null ? 0 : 1) > CohortOptions.MaxDistinct) return new CohortColumnPartial(name, true, []);
                sums.AddSample(r.Labels is { } labels ? labels[i] == r.Predictions[i] : null, r.Confidence[i]);
                for (var k = 0; k < keys.Length; k++)
                    if (values[k](i) is var x && double.IsFinite(x)) sums.Moments[k].Add(x);
            }
            return new CohortColumnPartial(name, false, [.. missing is null ? [] : new[] { missing }, .. byValue.Values.OrderBy(v => v.Value, StringComparer.Ordinal)]);
        }).ToArray();
        return new CohortPartial(keys, columns);
    }

    /// <summary>The metric names of faithfulness' AUCs among a cohort's trust metrics (as the samples table's <c>METHOD_deletion_auc</c>).</summary>
    public const string DeletionAuc = "deletion_auc";

    public const string InsertionAuc = "insertion_auc";

    /// <summary>The shard's statistics per sample: each method's mean |map|, a table's per-feature |attribution|, each faithfulness AUC, each trust metric (NaN: none).</summary>
    private static (CohortKey[] Keys, Func<int, double>[] Values) KeysOf(ShardOutcome s)
    {
        var keys = new List<(CohortKey, Func<int, double>)>();
        var r = s.Result;
        for (var m = 0; m < r.Methods.Count; m++)
        {
            var method = r.Methods[m];
            if (s.Scalars?[m] is { } scalars) keys.Add((new CohortKey(method.Name, null, null), i => scalars.MeanAbs[i]));
            if (s.Data.Features is not { } features || !method.MapShape.SequenceEqual([features.Length])) continue;
            var rowOf = method.MapRows(r.Count);
            for (var j = 0; j < features.Length; j++)
            {
                var f = j;
                keys.Add((new CohortKey(method.Name, features[f], null), i => rowOf[i] < 0 ? double.NaN : Math.Abs((double)method.Maps[rowOf[i] * features.Length + f])));
            }
        }
        // Faithfulness (the job's faithfulness block): each ordering's deletion and insertion AUC per sample, NaN where it did not run.
        if (r.Faithfulness is { } faithfulness)
            foreach (var ordering in faithfulness.Orderings)
            {
                keys.Add((new CohortKey(ordering.Method, null, DeletionAuc), i => ordering.DeletionAuc[i]));
                keys.Add((new CohortKey(ordering.Method, null, InsertionAuc), i => ordering.InsertionAuc[i]));
            }
        if (r.Trust is { } trust)
            foreach (var method in trust.Methods)
                for (var k = 0; k < trust.Metrics.Length; k++)
                {
                    var values = method.Values[k];
                    keys.Add((new CohortKey(method.Method, null, trust.Metrics[k]), i => values[i]));
                }
        return ([.. keys.Select(k => k.Item1)], [.. keys.Select(k => k.Item2)]);
    }

    public override void Write(BinaryWriter w, CohortPartial p)
    {
        w.Write(p.Keys.Length);
        foreach (var key in p.Keys)
        {
            w.Write(key.Method);
            WriteText(w, key.Feature);
            WriteText(w, key.Metric);
        }
        w.Write(p.Columns.Length);
        foreach (var column in p.Columns)
        {
            w.Write(column.Name);
            w.Write(column.TooMany);
            w.Write(column.Values.Length);
            foreach (var v in column.Values)
            {
                WriteText(w, v.Value);
                w.Write(v.Count);
                w.Write(v.Labelled);
                w.Write(v.Correct);
                foreach (var m in v.Moments)
                {
                    w.Write(m.Count);
                    WriteArray(w, m.Sum.Partials);
                    WriteArray(w, m.Squares.Partials);
                }
                v.Calibration.Write(w);
            }
        }
    }

    public override CohortPartial Read(BinaryReader r)
    {
        var keys = new CohortKey[r.ReadInt32()];
        for (var k = 0; k < keys.Length; k++) keys[k] = new CohortKey(r.ReadString(), ReadText(r), ReadText(r));
        var columns = new CohortColumnPartial[r.ReadInt32()];
        for (var c = 0; c < columns.Length; c++)
        {
            var (name, tooMany) = (r.ReadString(), r.ReadBoolean());
            var values = new CohortValueSums[r.ReadInt32()];
            for (var v = 0; v < values.Length; v++)
                values[v] = new CohortValueSums(ReadText(r), r.ReadInt64(), r.ReadInt64(), r.ReadInt64(),
                    [.. keys.Select(_ => ExactMoments.Of(r.ReadInt64(), ReadArray<double>(r), ReadArray<double>(r)))], CohortCalibrationSums.Read(r));
            columns[c] = new CohortColumnPartial(name, tooMany, values);
        }
        return new CohortPartial(keys, columns);
    }

    private static void WriteText(BinaryWriter w, string? text)
    {
        w.Write(text is not null);
        if (text is not null) w.Write(text);
    }

    private static string? ReadText(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(CohortsFeature feature) : FeatureSums<CohortPartial>(feature.Decode)
    {
        private CohortKey[]? _keys;
        private readonly List<ColumnSums> _columns = [];

        public override void Fold(CohortPartial partial)
        {
            _keys ??= partial.Keys;
            if (!_keys.SequenceEqual(partial.Keys) || _columns.Count > 0 && !_columns.Select(c => c.Name).SequenceEqual(partial.Columns.Select(c => c.Name)))
                throw new ArgumentException("cohort partials of different statistics or columns", nameof(partial));
            if (_columns.Count == 0) _columns.AddRange(partial.Columns.Select(c => new ColumnSums(c.Name)));
            foreach (var (total, part) in _columns.Zip(partial.Columns)) total.Fold(part);
        }

        public override object? Summarise(SummaryDraft draft) =>
            _keys is null ? null : new CohortsSummary(draft.Settings.Confidence, CohortOptions.MaxValues, CohortOptions.MaxDistinct,
                [.. _columns.Select(c => CohortSummaries.Column(c.Name, c.TooMany ? null : c.Values, _keys, draft.Settings.Confidence))]);
    }

    /// <summary>One column's sums per value over the shards folded so far; none once it has too many values.</summary>
    private sealed class ColumnSums(string name)
    {
        private readonly Dictionary<string, CohortValueSums> _values = new(StringComparer.Ordinal);
        private CohortValueSums? _missing;

        public string Name => name;

        public bool TooMany { get; private set; }

        /// <summary>Missing first, then by value (ordinal).</summary>
        public IReadOnlyList<CohortValueSums> Values => [.. _missing is null ? [] : new[] { _missing }, .. _values.Values.OrderBy(v => v.Value, StringComparer.Ordinal)];

        public void Fold(CohortColumnPartial part)
        {
            if (TooMany) return;
            foreach (var v in part.Values)
            {
                if (v.Value is null) (_missing ??= new CohortValueSums(null, v.Moments.Length)).Add(v);
                else if (_values.TryGetValue(v.Value, out var sums)) sums.Add(v);
                else _values[v.Value] = v.Copy();
            }
            if (!part.TooMany && _values.Count + (_missing is null ? 0 : 1) <= CohortOptions.MaxDistinct) return;
            (TooMany, _missing) = (true, null);
            _values.Clear();
        }
    }
}
