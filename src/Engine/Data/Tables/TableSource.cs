using ExplainCluster.Contracts;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A job's table, opened by header, and its encoder: one file (CSV, or Parquet when it starts with PAR1), or the parts of a
/// folder or container prefix (<see cref="TableParts"/>) as one table in their order, a row's dataset index its position
/// across them. A range of rows reads only the parts it overlaps, each as a single file is read.
/// </summary>
public sealed class TableSource
{
    /// <summary>How many parts are opened at once.</summary>
    private const int OpenAtOnce = 8;

    private readonly Part[] _parts;
    private readonly TableEncoder _encoder;
    private readonly TableSpec _spec;
    private readonly bool _split;

    private TableSource(Part[] parts, TableEncoder encoder, TableSpec spec, bool split)
    {
        _parts = parts;
        _encoder = encoder;
        _spec = spec;
        _split = split;
    }

    public long Count => _parts[^1].Start + _parts[^1].File.Count;

    public TableEncoder Encoder => _encoder;

    /// <summary>The versions of the table's files when they were opened, joined: another when any file was replaced.</summary>
    public string Version => string.Join('|', _parts.Select(p => $"{p.Location}@{p.File.Version}"));

    /// <summary>The files the rows are read from: the table's file, or its parts in order.</summary>
    public string[] Files => [.. _parts.Select(p => p.Location)];

    public static async Task<TableSource> OpenAsync(JobSpec job, BlobLocator locator, CancellationToken ct)
    {
        var spec = job.Data.Table ?? throw new InvalidOperationException("not a table job");
        var table = job.Data.Inputs;
        var listed = await TableParts.ListAsync(table, locator, ct);
        string[] locations = listed ?? [table];
        // Parts are opened OpenAtOnce at a time (a Parquet part's footer is a few round trips, a CSV part one pass); the first
        // part in order that fails is the error, whatever finished first.
        using var gate = new SemaphoreSlim(OpenAtOnce);
        var files = await Task.WhenAll(locations.Select(async location =>
        {
            await gate.WaitAsync(ct);
            try { return await OpenFileAsync(location, listed is not null, locator, ct); }
            finally { gate.Release(); }
        }));
        var parts = new Part[files.Length];
        long start = 0;
        for (var p = 0; p < files.Length; p++)
        {
            if (p > 0) TableParts.CheckColumns(locations[0], files[0].Columns, locations[p], files[p].Columns);
            parts[p] = new Part(locations[p], files[p], start);
            start += files[p].Count;
        }
        if (start == 0) throw new ExplainException($"data.table: {table} has no rows");
        // Errors about columns name the file the columns were read from: the table's, or the first part's (every part has its columns).
        return new TableSource(parts, new TableEncoder(spec, files[0].Columns, locations[0], job.Model.Classes), spec, listed is not null);
    }

    /// <summary>One file: a part by its extension, the table's file by its magic (PAR1 is Parquet, anything else CSV).</summary>
    private static async Task<ITableFile> OpenFileAsync(string location, bool part, BlobLocator locator, CancellationToken ct)
    {
        var blob = locator.Resolve(location);
        var (length, version) = await blob.StatAsync(ct) ?? throw new ExplainException($"data.table: {location} does not exist");
        var parquet = part ? TableParts.IsParquetPart(location) : await ParquetTable.IsParquetAsync(blob, length, ct);
        return parquet ? await ParquetTable.OpenAsync(blob, length, ct, version: version) : await CsvTable.OpenAsync(blob, ct, version: version);
    }

    /// <summary>Rows as the model's vectors [count, width], their labels when the job has a label column, and their metadata.</summary>
    public async Task<TableRows> ReadAsync(long start, int count, CancellationToken ct)
    {
        var pieces = new List<TableRows>();
        foreach (var part in _parts)
        {
            var (from, to) = (Math.Max(start, part.Start), Math.Min(start + count, part.Start + part.File.Count));
            if (from < to) pieces.Add(await ReadAsync(part, from, checked((int)(to - from)), ct));
        }
        return pieces.Count == 1 ? pieces[0] : Concat(pieces);
    }

    /// <summary>Rows [<paramref name="start"/>, +<paramref name="count"/>) of the table, all within <paramref name="part"/>.</summary>
    private async Task<TableRows> ReadAsync(Part part, long start, int count, CancellationToken ct)
    {
        var origin = new RowOrigin(part.Location, start - part.Start, _split ? start : null);
        var cells = await part.File.ReadColumnsAsync(start - part.Start, count, _encoder.ReadColumns, ct);
        var features = _spec.Features.Length;
        var labels = _encoder.LabelColumn is null ? null : _encoder.Labels(cells[features], origin);
        var metadata = cells.Skip(features + (labels is null ? 0 : 1))
            .Select(c => Enumerable.Range(0, c.Count).Select(r => c.IsMissing(r) ? null : c.Text(r)).ToArray()).ToArray();
        return new TableRows(_encoder.Encode(cells[..features], origin), labels, metadata);
    }

    /// <summary>Consecutive ranges' rows as one.</summary>
    private TableRows Concat(List<TableRows> pieces) => new(
        [.. pieces.SelectMany(p => p.Vectors)],
        _encoder.LabelColumn is null ? null : [.. pieces.SelectMany(p => p.Labels!)],
        [.. _spec.Metadata.Select((_, m) => pieces.SelectMany(p => p.Metadata[m]).ToArray())]);

    /// <summary>One file of the table, and the dataset index of its first row.</summary>
    private sealed record Part(string Location, ITableFile File, long Start);
}

/// <summary>Rows as the model takes them; <see cref="Metadata"/>: one array of text per metadata column (null: missing).</summary>
public sealed record TableRows(float[] Vectors, long[]? Labels, string?[][] Metadata);
