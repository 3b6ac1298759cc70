using ExplainCluster.Contracts;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>A job's table: its file (CSV, or Parquet when it starts with PAR1) opened by header, and its encoder.</summary>
public sealed class TableSource(ITableFile file, TableEncoder encoder, TableSpec spec)
{
    public long Count => file.Count;

    public TableEncoder Encoder => encoder;

    public static async Task<TableSource> OpenAsync(JobSpec job, BlobLocator locator, CancellationToken ct)
    {
        var spec = job.Data.Table ?? throw new InvalidOperationException("not a table job");
        var blob = locator.Resolve(job.Data.Inputs);
        if (!await blob.ExistsAsync(ct)) throw new ExplainException($"data.table: {job.Data.Inputs} does not exist");
        var length = await blob.LengthAsync(ct);
        ITableFile file = await ParquetTable.IsParquetAsync(blob, length, ct) ? await ParquetTable.OpenAsync(blob, length, ct) : await CsvTable.OpenAsync(blob, ct);
        if (file.Count == 0) throw new ExplainException($"data.table: {job.Data.Inputs} has no rows");
        return new TableSource(file, new TableEncoder(spec, file.Columns, job.Data.Inputs, job.Model.Classes), spec);
    }

    /// <summary>Rows as the model's vectors [count, width], their labels when the job has a label column, and their metadata.</summary>
    public async Task<TableRows> ReadAsync(long start, int count, CancellationToken ct)
    {
        var cells = await file.ReadAsync(start, count, encoder.ReadColumns, ct);
        var features = spec.Features.Length;
        var labels = encoder.LabelColumn is null ? null : encoder.Labels(cells[features], start);
        var metadata = cells.Skip(features + (labels is null ? 0 : 1)).Select(c => c.Select(v => v switch
        {
            double d => d.ToString(System.Globalization.CultureInfo.InvariantCulture),
            var other => (string?)other,
        }).ToArray()).ToArray();
        return new TableRows(encoder.Encode(cells[..features], start), labels, metadata);
    }
}

/// <summary>Rows as the model takes them; <see cref="Metadata"/>: one array of text per metadata column (null: missing).</summary>
public sealed record TableRows(float[] Vectors, long[]? Labels, string?[][] Metadata);
