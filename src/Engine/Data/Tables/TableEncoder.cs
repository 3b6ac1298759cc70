using System.Globalization;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// Turns a table's rows into the vectors the model was trained on: each feature in order, (x − mean) / std computed in
/// double and stored as float32, one-hot or index over its levels, a missing value replaced by the feature's
/// <c>missing</c> value (or failing the job); and the label column into class indices. Every bad cell is one line
/// naming the file, the row (<see cref="RowOrigin"/>: the dataset index, as in the outputs' <c>index</c> column; in a part
/// of a folder, the part's row and the dataset index), the column and the value.
/// </summary>
public sealed class TableEncoder
{
    private readonly TableSpec _spec;
    private readonly string[]? _classes;

    /// <param name="columns">The file's column names.</param>
    /// <param name="classes">The model's class names (<c>model.classes</c>), which label values may be given as.</param>
    public TableEncoder(TableSpec spec, string[] columns, string location, string[]? classes)
    {
        _spec = spec;
        _classes = classes;
        int Find(string name, string field) => Array.IndexOf(columns, name) is var i and >= 0 ? i
            : throw new ExplainException($"{field}: {location} has no column \"{name}\" (columns: {string.Join(", ", columns)})");
        FeatureColumns = [.. spec.Features.Select((f, i) => Find(f.Name, $"data.features[{i}].name"))];
        LabelColumn = spec.Label is { } label ? Find(label, "data.label") : null;
        MetadataColumns = [.. spec.Metadata.Select((m, i) => Find(m, $"data.metadata[{i}]"))];
        Width = spec.Features.Sum(f => f.Width);
    }

    /// <summary>The length of the model's input vector.</summary>
    public int Width { get; }

    public int[] FeatureColumns { get; }

    public int? LabelColumn { get; }

    public int[] MetadataColumns { get; }

    /// <summary>The columns a read needs, in order: features, then the label's if any, then metadata.</summary>
    public int[] ReadColumns => [.. FeatureColumns, .. LabelColumn is { } l ? [l] : Array.Empty<int>(), .. MetadataColumns];

    /// <summary>Rows' cells (one array per column of <see cref="ReadColumns"/>) as [count, Width] float32, row-major.</summary>
    public float[] Encode(ColumnCells[] cells, RowOrigin start)
    {
        var count = cells.Length == 0 ? 0 : cells[0].Count;
        var vectors = new float[(long)count * Width];
        for (var r = 0; r < count; r++)
        {
            var at = r * Width;
            for (var f = 0; f < _spec.Features.Length; f++)
            {
                var (feature, column) = (_spec.Features[f], cells[f]);
                // A number read as a number is used as it is (no cell boxed per row); text, and a missing value's stand-in, as before.
                var missing = column.IsMissing(r)
                    ? feature.Missing ?? throw Bad(start + r, feature.Name, "", "is missing, and the feature's missing is \"fail\"")
                    : null;
                var number = 0.0;
                var isNumber = missing is null && column.TryNumber(r, out number);
                switch (feature.Encoding)
                {
                    case FeatureEncoding.Identity:
                        vectors[at] = (float)(isNumber ? number : Number(missing ?? column.Text(r), start + r, feature.Name));
                        break;
                    case FeatureEncoding.Standardize:
                        vectors[at] = (float)(((isNumber ? number : Number(missing ?? column.Text(r), start + r, feature.Name)) - feature.Mean) / feature.Std);
                        break;
                    case FeatureEncoding.OneHot:
                        vectors[at + Level(missing ?? column.Text(r), start + r, feature)] = 1f;
                        break;
                    case FeatureEncoding.Index:
                        vectors[at] = Level(missing ?? column.Text(r), start + r, feature);
                        break;
                }
                at += feature.Width;
            }
        }
        return vectors;
    }

    /// <summary>The label column's cells as class indices: integers, or names among <c>model.classes</c>.</summary>
    public long[] Labels(ColumnCells cells, RowOrigin start)
    {
        var name = _spec.Label!;
        var labels = new long[cells.Count];
        for (var r = 0; r < cells.Count; r++)
        {
            var text = !cells.IsMissing(r) ? cells.Text(r) : throw Bad(start + r, name, "", "is missing; every sample needs its label");
            labels[r] = _classes is not null && Array.IndexOf(_classes, text) is var k and >= 0 ? k
                : long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i
                : throw Bad(start + r, name, text, _classes is null ? "is not an integer class (or give model.classes to name them)"
                    : $"is neither an integer nor a class of model.classes ({string.Join(", ", _classes)})");
        }
        return labels;
    }

    private static double Number(object cell, RowOrigin row, string column) => cell switch
    {
        double d => d,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => d,
        _ => throw Bad(row, column, Text(cell), "is not a number"),
    };

    private static int Level(object cell, RowOrigin row, TableFeature feature)
    {
        var text = Text(cell);
        return Array.IndexOf(feature.Levels!, text) is var i and >= 0 ? i
            : throw Bad(row, feature.Name, text, $"is not one of its levels ({string.Join(", ", feature.Levels!)})");
    }

    private static string Text(object cell) => cell is double d ? d.ToString(CultureInfo.InvariantCulture) : (string)cell;

    private static ExplainException Bad(RowOrigin row, string column, string value, string problem) =>
        new(value.Length == 0 ? $"{row}, column \"{column}\": the value {problem}" : $"{row}, column \"{column}\": \"{value}\" {problem}");
}

/// <summary>
/// Where a row is, as errors name it: its file and its row there (0 for the first after the header), and, for a part of a
/// folder, its dataset index. <c>+</c> moves on by rows.
/// </summary>
public readonly record struct RowOrigin(string Location, long Row, long? DatasetIndex = null)
{
    public static RowOrigin operator +(RowOrigin origin, long rows) =>
        origin with { Row = origin.Row + rows, DatasetIndex = origin.DatasetIndex + rows };

    public override string ToString() => DatasetIndex is { } index ? $"{Location}: row {Row} (dataset index {index})" : $"{Location}: row {Row}";
}
