using System.Text;

namespace ExplainCluster.Engine.Data;

/// <summary>
/// CSV as RFC 4180 has it: comma-separated fields, fields in double quotes may hold commas, doubled quotes and line
/// breaks; lines end in LF or CRLF; blank lines are skipped. Used by image manifests and tables.
/// </summary>
public static class Csv
{
    /// <summary>Every record of <paramref name="text"/> (a byte-order mark at its start is dropped), the header included.</summary>
    public static List<string[]> Records(string text, string location)
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
        return records;
    }

    /// <summary>
    /// Where every <paramref name="every"/>-th record starts (records 0, every, 2·every, …), in bytes, then where the last
    /// one ends, and how many records there are: the index that lets a table be read by ranges of records (<see cref="Records"/>
    /// on each range's text). Quotes are followed, so a line break inside one is not a record's end; blank lines are no
    /// records. One pass over the stream, 8 bytes per <paramref name="every"/> records.
    /// </summary>
    public static async Task<(long[] Offsets, long Records)> RecordOffsetsAsync(Stream stream, int every, CancellationToken ct)
    {
        var offsets = new List<long>();
        var buffer = new byte[1 << 16];
        long position = 0, records = 0;
        var quoted = false;
        var lineStart = 0L;
        var content = false;
        int read;
        while ((read = await stream.ReadAsync(buffer, ct)) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var b = buffer[i];
                if (b == (byte)'"') quoted = !quoted; // a doubled quote toggles twice
                if (b == (byte)'\n' && !quoted)
                {
                    if (content && records++ % every == 0) offsets.Add(lineStart);
                    lineStart = position + i + 1;
                    content = false;
                }
                else if (b != (byte)'\r') content = true;
            }
            position += read;
        }
        if (content && records++ % every == 0) offsets.Add(lineStart);
        offsets.Add(position);
        return ([.. offsets], records);
    }
}
