using System.Text;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A CSV table (<see cref="Csv"/>; a header row; an empty field is a missing value) read by ranges of rows. Opening it
/// reads the file once for the byte offset of every row (<see cref="Csv.RecordOffsetsAsync"/>, 8 bytes a row, no parsing);
/// a range is then one ranged read of its rows' bytes, parsed alone.
/// </summary>
public sealed class CsvTable : ITableFile
{
    private readonly IBlob _blob;
    private readonly long[] _offsets;

    private CsvTable(IBlob blob, long[] offsets, string[] columns)
    {
        _blob = blob;
        _offsets = offsets;
        Columns = columns;
    }

    public string[] Columns { get; }

    public long Count => _offsets.Length - 2;

    public static async Task<CsvTable> OpenAsync(IBlob blob, CancellationToken ct)
    {
        long[] offsets;
        await using (var stream = await blob.OpenReadAsync(ct))
            offsets = await Csv.RecordOffsetsAsync(stream, ct);
        if (offsets.Length < 2) throw new ExplainException($"{blob.Location}: empty (expected a header row and a row per sample)");
        var header = Csv.Records(Encoding.UTF8.GetString(await blob.ReadRangeAsync(offsets[0], checked((int)(offsets[1] - offsets[0])), ct)), blob.Location);
        return new CsvTable(blob, offsets, [.. header[0].Select(h => h.Trim())]);
    }

    public async Task<object?[][]> ReadAsync(long start, int count, int[] columns, CancellationToken ct)
    {
        var from = _offsets[start + 1];
        var bytes = await _blob.ReadRangeAsync(from, checked((int)(_offsets[start + 1 + count] - from)), ct);
        var records = Csv.Records(Encoding.UTF8.GetString(bytes), $"{_blob.Location} (rows {start}–{start + count - 1})");
        if (records.Count != count)
            throw new ExplainException($"{_blob.Location}: rows {start}–{start + count - 1} read as {records.Count} records; the file changed while the job ran");
        var cells = columns.Select(_ => new object?[count]).ToArray();
        for (var r = 0; r < count; r++)
        {
            if (records[r].Length != Columns.Length)
                throw new ExplainException($"{_blob.Location}: row {start + r} has {records[r].Length} fields, the header {Columns.Length}");
            for (var c = 0; c < columns.Length; c++)
                cells[c][r] = records[r][columns[c]] is { Length: > 0 } text ? text : null;
        }
        return cells;
    }
}
