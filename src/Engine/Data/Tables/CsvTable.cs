using System.Text;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A CSV table (<see cref="Csv"/>; a header row; an empty field is a missing value) read by ranges of rows. Opening it
/// reads the file once for the byte offset of every <see cref="RowsPerOffset"/>-th record (<see cref="Csv.RecordOffsetsAsync"/>,
/// no parsing; 8 bytes per 256 rows, so 1,000,000 rows index in 31 KB); a range is then one ranged read of the blocks of
/// records it overlaps, parsed alone, of which it keeps its rows.
/// </summary>
public sealed class CsvTable : ITableFile
{
    /// <summary>Records per indexed offset: a range reads at most this many records besides its own at each end.</summary>
    public const int RowsPerOffset = 256;

    private readonly IBlob _blob;
    private readonly long[] _offsets;
    private readonly long _records;
    private readonly int _every;

    private CsvTable(IBlob blob, long[] offsets, long records, int every, string[] columns, string version)
    {
        _blob = blob;
        Version = version;
        _offsets = offsets;
        _records = records;
        _every = every;
        Columns = columns;
    }

    public string[] Columns { get; }

    public long Count => _records - 1;

    public string Version { get; }

    /// <param name="every">Records per indexed offset (<see cref="RowsPerOffset"/>; another value for tests of the blocks' edges).</param>
    /// <param name="version">The blob's version when the caller has it (<see cref="IBlob.StatAsync"/>); asked for otherwise.</param>
    public static async Task<CsvTable> OpenAsync(IBlob blob, CancellationToken ct, int every = RowsPerOffset, string? version = null)
    {
        long[] offsets;
        long records;
        version ??= await blob.VersionAsync(ct);
        await using (var stream = await blob.OpenReadAsync(ct))
            (offsets, records) = await Csv.RecordOffsetsAsync(stream, every, ct);
        if (records == 0) throw new ExplainException($"{blob.Location}: empty (expected a header row and a row per sample)");
        var table = new CsvTable(blob, offsets, records, every, [], version);
        var header = await table.RecordsAsync(0, 1, $"{blob.Location} (header)", ct);
        return new CsvTable(blob, offsets, records, every, [.. header[0].Select(h => h.Trim())], version);
    }

    public async Task<ColumnCells[]> ReadColumnsAsync(long start, int count, int[] columns, CancellationToken ct)
    {
        var records = await RecordsAsync(start + 1, count, $"{_blob.Location} (rows {start}–{start + count - 1})", ct);
        var cells = columns.Select(_ => new string?[count]).ToArray();
        for (var r = 0; r < count; r++)
        {
            if (records[r].Length != Columns.Length)
                throw new ExplainException($"{_blob.Location}: row {start + r} has {records[r].Length} fields, the header {Columns.Length}");
            for (var c = 0; c < columns.Length; c++) cells[c][r] = records[r][columns[c]];
        }
        return [.. cells.Select(c => new ColumnCells(new DecodedColumn.Texts(c), 0, count))];
    }

    /// <summary>Records [<paramref name="first"/>, +<paramref name="count"/>) (record 0 is the header): the indexed blocks that hold them, read at once.</summary>
    private async Task<List<string[]>> RecordsAsync(long first, int count, string location, CancellationToken ct)
    {
        var (lo, hi) = (first / _every, (first + count + _every - 1) / _every); // blocks: the offsets' indices (the last one is the end)
        var from = _offsets[lo];
        var records = Csv.Records(Encoding.UTF8.GetString(await _blob.ReadRangeAsync(from, checked((int)(_offsets[hi] - from)), ct)), location);
        var expected = Math.Min(hi * _every, _records) - lo * _every;
        if (records.Count != expected)
            throw new ExplainException($"{location}: read as {records.Count} records where {expected} were indexed; the file changed while the job ran");
        return records.GetRange(checked((int)(first - lo * _every)), count);
    }
}
