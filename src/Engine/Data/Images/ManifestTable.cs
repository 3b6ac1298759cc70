using System.Globalization;
using Parquet;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// A manifest's rows as text, by column: a CSV file (<see cref="Csv"/>) with a header row, or a Parquet file (every row group, each value as invariant text).
/// </summary>
public sealed class ManifestTable
{
    private ManifestTable(string[] header, List<string[]> rows)
    {
        Header = header;
        Rows = rows;
    }

    public string[] Header { get; }

    public IReadOnlyList<string[]> Rows { get; }

    /// <summary>The index of column <paramref name="name"/>; <paramref name="field"/> names the job file's field in the error.</summary>
    public int Column(string name, string field, string location)
    {
        var index = Array.IndexOf(Header, name);
        return index >= 0 ? index
            : throw new ExplainException($"{field}: {location} has no column \"{name}\" (columns: {string.Join(", ", Header)})");
    }

    /// <summary>
    /// Parquet when the file starts with its magic (PAR1), CSV otherwise. Of a Parquet file only <paramref name="columns"/>
    /// are read (text or integer columns); a CSV file is read whole.
    /// </summary>
    public static async Task<ManifestTable> ReadAsync(Stream stream, string location, string[] columns, CancellationToken ct)
    {
        var bytes = new MemoryStream();
        await stream.CopyToAsync(bytes, ct);
        bytes.Position = 0;
        if (bytes.Length >= 4 && "PAR1"u8.SequenceEqual(bytes.GetBuffer().AsSpan(0, 4))) return await ParquetAsync(bytes, location, columns, ct);
        return Parse(new StreamReader(bytes).ReadToEnd(), location);
    }

    private static async Task<ManifestTable> ParquetAsync(Stream stream, string location, string[] wanted, CancellationToken ct)
    {
        var reader = await Tables.ParquetTable.ReaderAsync(stream, location, ct);
        await using (reader)
        {
            var all = reader.Schema.GetDataFields();
            var fields = all.Where(f => wanted.Contains(f.Name, StringComparer.Ordinal)).ToArray();
            var rows = new List<string[]>();
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                var n = checked((int)group.RowCount);
                var columns = new List<string[]>();
                foreach (var field in fields) columns.Add(await TextAsync(group, field, n, location, ct));
                for (var r = 0; r < n; r++) rows.Add([.. columns.Select(c => c[r])]);
            }
            // Unread columns stay in the header (so a missing one is named among them) with empty values.
            var header = all.Select(f => f.Name).ToArray();
            var at = fields.Select(f => Array.IndexOf(header, f.Name)).ToArray();
            return new ManifestTable(header, [.. rows.Select(row =>
            {
                var full = new string[header.Length];
                Array.Fill(full, "");
                for (var i = 0; i < at.Length; i++) full[at[i]] = row[i];
                return full;
            })]);
        }
    }

    private static async Task<string[]> TextAsync(ParquetRowGroupReader group, Parquet.Schema.DataField field, int n, string location, CancellationToken ct)
    {
        var inv = CultureInfo.InvariantCulture;
        if (field.ClrType == typeof(string) || field.ClrType == typeof(ReadOnlyMemory<char>))
        {
            var text = new string?[n];
            await group.ReadAsync(field, text.AsMemory(), cancellationToken: ct);
            return [.. text.Select(v => v ?? "")];
        }
        // Labels as integers, metadata as numbers or booleans: each value as invariant text (empty: null).
        Func<string?[], Task>? read = field.ClrType switch
        {
            var t when t == typeof(long) => text => ReadAsAsync<long>(group, field, text, v => v.ToString(inv), ct),
            var t when t == typeof(int) => text => ReadAsAsync<int>(group, field, text, v => v.ToString(inv), ct),
            var t when t == typeof(double) => text => ReadAsAsync<double>(group, field, text, v => v.ToString("R", inv), ct),
            var t when t == typeof(float) => text => ReadAsAsync<float>(group, field, text, v => v.ToString("R", inv), ct),
            var t when t == typeof(bool) => text => ReadAsAsync<bool>(group, field, text, v => v ? "true" : "false", ct),
            _ => null,
        };
        if (read is not null)
        {
            var values = new string?[n];
            await read(values);
            return [.. values.Select(v => v ?? "")];
        }
        throw new ExplainException($"{location}: column \"{field.Name}\" is {field.ClrType.Name}; paths are text, labels text or integers, metadata text, numbers or booleans");
    }

    private static async Task ReadAsAsync<T>(ParquetRowGroupReader group, Parquet.Schema.DataField field, string?[] text, Func<T, string> format, CancellationToken ct)
        where T : struct
    {
        if (field.IsNullable)
        {
            var values = new T?[text.Length];
            await group.ReadAsync<T>(field, values.AsMemory(), cancellationToken: ct);
            for (var i = 0; i < text.Length; i++) text[i] = values[i] is { } v ? format(v) : null;
            return;
        }
        var dense = new T[text.Length];
        await group.ReadAsync<T>(field, dense.AsMemory(), cancellationToken: ct);
        for (var i = 0; i < text.Length; i++) text[i] = format(dense[i]);
    }

    public static ManifestTable Parse(string text, string location)
    {
        var records = Csv.Records(text, location);
        if (records.Count == 0) throw new ExplainException($"{location}: empty (expected a header row and a row per image)");
        var header = records[0].Select(h => h.Trim()).ToArray();
        for (var r = 1; r < records.Count; r++)
            if (records[r].Length != header.Length)
                throw new ExplainException($"{location}: row {r} has {records[r].Length} fields, the header {header.Length}");
        return new ManifestTable(header, records[1..]);
    }
}
