using System.Globalization;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Tests.Data;

/// <summary>The tabular fixtures as jobs read them, and Parquet copies of their CSV (written with Parquet.Net, as no Debian tool writes Parquet).</summary>
public static class TableFiles
{
    public static string Credit => TestPaths.Fixture("tabular/credit_data.csv");

    /// <summary>credit_data's <c>data.features</c>, as tools/make_tabular_fixtures.py wrote them.</summary>
    public static string CreditFeatures => File.ReadAllText(TestPaths.Fixture("tabular/credit_features.json"));

    /// <summary>The same with each categorical index-encoded (the embedding model's <c>data.features</c>).</summary>
    public static string CreditEmbeddingFeatures => File.ReadAllText(TestPaths.Fixture("tabular/credit_embedding_features.json"));

    public static string CreditData(string table, string? features = null) =>
        $$"""{ "table": "{{table}}", "features": {{features ?? CreditFeatures}}, "label": "Status" }""";

    /// <summary>
    /// The linear fixture's features: a as it is, b standardized (mean 1, std 2; missing: 0.5 unless <paramref name="bMissing"/>),
    /// c one-hot over x, y, z: the model's vector is [a, (b − 1) / 2, c=x, c=y, c=z].
    /// </summary>
    public static string LinearData(string table, string bMissing = "0.5", string bName = "b") => $$"""
        { "table": "{{table}}",
          "features": [
            { "name": "a", "type": "numeric" },
            { "name": "{{bName}}", "type": "numeric", "encode": { "standardize": { "mean": 1, "std": 2 } }, "missing": {{bMissing}} },
            { "name": "c", "type": "categorical", "encode": { "oneHot": ["x", "y", "z"] }, "missing": "fail" } ],
          "label": "label", "metadata": ["id", "region"] }
        """;

    /// <summary>
    /// <paramref name="csv"/> as Parquet, in row groups of <paramref name="rowGroup"/> rows: columns whose every value parses as a
    /// number become nullable doubles, the others nullable text; empty fields are nulls.
    /// </summary>
    public static async Task<string> ParquetOfAsync(string csv, string path, int rowGroup)
    {
        var records = Csv.Records(await File.ReadAllTextAsync(csv), csv);
        var header = records[0];
        var rows = records.Skip(1).ToArray();
        var numeric = header.Select((_, c) => rows.All(r => r[c].Length == 0 || double.TryParse(r[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double _))).ToArray();
        var fields = header.Select((h, c) => numeric[c] ? (DataField)new DataField<double?>(h) : new DataField<string>(h)).ToArray();
        await using var stream = File.Create(path);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
        for (var start = 0; start < rows.Length; start += rowGroup)
        {
            var group = rows.Skip(start).Take(rowGroup).ToArray();
            using var groupWriter = writer.CreateRowGroup();
            for (var c = 0; c < header.Length; c++)
            {
                if (numeric[c])
                    await groupWriter.WriteAsync(fields[c], new ReadOnlyMemory<double?>([.. group.Select(r => r[c].Length == 0 ? (double?)null
                        : double.Parse(r[c], CultureInfo.InvariantCulture))]));
                else await groupWriter.WriteAsync(fields[c], group.Select(r => r[c].Length == 0 ? null : r[c]).ToArray());
            }
        }
        return path;
    }
}
