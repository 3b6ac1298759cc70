using System.Text;

namespace ExplainCluster.Engine.Data.Images;

/// <summary>A CSV file (RFC 4180: comma-separated, fields in double quotes may hold commas, quotes doubled, line breaks) with a header row.</summary>
public sealed class CsvTable
{
    private CsvTable(string[] header, List<string[]> rows)
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

    public static CsvTable Parse(string text, string location)
    {
        if (text.StartsWith('\uFEFF')) text = text[1..]; // a byte-order mark, as spreadsheets write
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else { if (c == '\n') line++; field.Append(c); }
            }
            else if (c == '"' && field.Length == 0) quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c is '\n' or '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                fields.Add(field.ToString());
                field.Clear();
                if (fields is not [""]) records.Add([.. fields]);
                fields.Clear();
                line++;
            }
            else field.Append(c);
        }
        if (quoted) throw new ExplainException($"{location}: line {line}: a quoted field is not closed");
        if (field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            records.Add([.. fields]);
        }
        if (records.Count == 0) throw new ExplainException($"{location}: empty (expected a header row and a row per image)");
        var header = records[0].Select(h => h.Trim()).ToArray();
        for (var r = 1; r < records.Count; r++)
            if (records[r].Length != header.Length)
                throw new ExplainException($"{location}: row {r} has {records[r].Length} fields, the header {header.Length}");
        return new CsvTable(header, records[1..]);
    }
}
