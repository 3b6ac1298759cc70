using System.Net;
using System.Text;

namespace ExplainCluster.Engine.Report;

/// <summary>The page around the chapters: its head, the linked list of contents under the title, the headings and the inlined figures.</summary>
public static class ReportHtml
{
    /// <summary>Text as HTML: every section escapes what it writes with this.</summary>
    public static string E(string text) => WebUtility.HtmlEncode(text);

    /// <summary>
    /// The whole page of the job named <paramref name="job"/>: <paramref name="top"/> (the header), the list of contents
    /// (one entry per chapter), then each chapter: the anchor section-N (N counting the chapters) and its &lt;h2&gt;, then its
    /// parts, each titled part under an &lt;h3&gt;, a figure group with its PNGs from <paramref name="pngs"/>.
    /// </summary>
    public static string Document(string job, ReportText? top, IReadOnlyList<(string Title, IReadOnlyList<ReportPart> Parts)> chapters,
        IReadOnlyDictionary<FigureGroup, byte[][]> pngs)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
            .Append(E(job)).Append(" — ExplainCluster report</title><style>")
            .Append("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
            .Append("figure{display:inline-block;margin:6px;vertical-align:top}figcaption{font-size:12px;max-width:240px}img{image-rendering:pixelated}")
            .Append("td.l,th.l{text-align:left}pre{background:#f6f6f6;padding:6px;overflow-x:auto}")
            .Append("</style></head><body>");
        if (top is not null) html.Append(top.Html);
        html.Append("<nav><h3>Contents</h3><ol>");
        for (var i = 0; i < chapters.Count; i++)
            html.Append("<li><a href=\"#").Append(Anchor(i + 1)).Append("\">").Append(E(chapters[i].Title)).Append("</a></li>");
        html.Append("</ol></nav>");
        for (var i = 0; i < chapters.Count; i++)
        {
            html.Append("<a id=\"").Append(Anchor(i + 1)).Append("\"></a><h2>").Append(E(chapters[i].Title)).Append("</h2>");
            foreach (var part in chapters[i].Parts)
            {
                if (part.Heading is { } heading) html.Append("<h3>").Append(E(heading)).Append("</h3>");
                switch (part)
                {
                    case ReportText text:
                        html.Append(text.Html);
                        break;
                    case FigureGroup group:
                        Figures(html, group, pngs[group]);
                        break;
                }
            }
        }
        return html.Append("</body></html>").ToString();
    }

    /// <summary>The id of the <paramref name="number"/>th chapter (counted from 1).</summary>
    public static string Anchor(int number) => $"section-{number}";

    private static void Figures(StringBuilder html, FigureGroup group, byte[][] pngs)
    {
        for (var i = 0; i < pngs.Length; i++)
            html.Append("<figure><img alt=\"").Append(E(group.Figures[i].Caption)).Append("\" src=\"data:image/png;base64,")
                .Append(Convert.ToBase64String(pngs[i])).Append("\"><figcaption>").Append(E(group.Figures[i].Caption)).Append("</figcaption></figure>");
    }
}
