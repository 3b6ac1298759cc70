using System.Text;
using System.Text.RegularExpressions;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// Tables a screen reader and a printed page can follow: every table of a section's text gets a caption (the table's own if
/// it has one, else the nearest heading (h3, h4) above it in the text, else the part's heading, then read by screen readers
/// and not shown twice), its first row of only header cells
/// becomes a &lt;thead&gt; (repeated on each printed page) with column scope, and a body row that starts with a header cell
/// gets row scope. Sections write plain tables; the page applies this once to each section's text.
/// </summary>
public static partial class ReportTables
{
    /// <param name="html">A section's text (already escaped HTML).</param>
    /// <param name="heading">The heading the text sits under, as plain text.</param>
    public static string Accessible(string html, string heading)
    {
        var result = new StringBuilder(html.Length + 256);
        var last = 0;
        foreach (Match table in TablePattern().Matches(html))
        {
            result.Append(html, last, table.Index - last);
            var headings = HeadingPattern().Matches(html[..table.Index]);
            var caption = headings.Count > 0 ? headings[^1].Groups[1].Value : ReportHtml.E(heading);
            result.Append(Table(table.Groups[1].Value, caption));
            last = table.Index + table.Length;
        }
        return result.Append(html, last, html.Length - last).ToString();
    }

    private static string Table(string inner, string caption)
    {
        var html = new StringBuilder("<table>");
        // A caption taken from the heading above repeats what the reader already sees: it is there for screen readers only.
        if (!inner.StartsWith("<caption>", StringComparison.Ordinal)) html.Append("<caption class=\"sr\">").Append(caption).Append("</caption>");
        if (inner.Contains("<thead>", StringComparison.Ordinal)) return html.Append(inner).Append("</table>").ToString();
        var rest = inner;
        if (rest.StartsWith("<caption>", StringComparison.Ordinal))
        {
            var end = rest.IndexOf("</caption>", StringComparison.Ordinal) + "</caption>".Length;
            html.Append(rest, 0, end);
            rest = rest[end..];
        }
        var first = FirstRowPattern().Match(rest);
        if (first.Success && first.Index == 0 && !first.Value.Contains("<td", StringComparison.Ordinal))
        {
            html.Append("<thead>").Append(CellPattern().Replace(first.Value, "<th scope=\"col\"")).Append("</thead>");
            rest = rest[first.Length..];
        }
        var body = rest.Replace("<tbody>", "", StringComparison.Ordinal).Replace("</tbody>", "", StringComparison.Ordinal);
        return html.Append("<tbody>").Append(RowHeaderPattern().Replace(body, "<tr><th scope=\"row\"")).Append("</tbody></table>").ToString();
    }

    [GeneratedRegex("<table>(.*?)</table>", RegexOptions.Singleline)]
    private static partial Regex TablePattern();

    [GeneratedRegex("<h[34]>(.*?)</h[34]>", RegexOptions.Singleline)]
    private static partial Regex HeadingPattern();

    [GeneratedRegex("<tr>.*?</tr>", RegexOptions.Singleline)]
    private static partial Regex FirstRowPattern();

    [GeneratedRegex("<th(?![a-z])(?! scope)")]
    private static partial Regex CellPattern();

    [GeneratedRegex("<tr><th(?![a-z])(?! scope)")]
    private static partial Regex RowHeaderPattern();
}
