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
            .Append(E(job)).Append(" — ExplainCluster report</title><style>").Append(Css).Append("</style></head><body>");
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
                        html.Append(ReportTables.Accessible(text.Html, part.Heading ?? chapters[i].Title));
                        break;
                    case FigureGroup group:
                        Figures(html, group, pngs[group]);
                        break;
                }
            }
        }
        return html.Append("</body></html>").ToString();
    }

    /// <summary>
    /// The page's style, on screen and in print. A figure is as wide as its picture and its caption wraps under it; in print
    /// (A4, numbered "page N of M" at the foot of each page, nothing else there) a figure, a table row and a short table are never
    /// split across pages, a heading never ends one, a table's header row (its &lt;thead&gt;) repeats on every page it spans, and a
    /// picture is at most 100 mm high, so two grids share a page.
    /// </summary>
    private const string Css =
        "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
        + "figure{display:inline-table;margin:6px;vertical-align:top}figcaption{display:table-caption;caption-side:bottom;font-size:12px}"
        + "img{image-rendering:pixelated;max-width:100%;height:auto}"
        + "thead{display:table-header-group}h1,h2,h3,h4,p:has(+table){break-after:avoid}figure,tr,table{break-inside:avoid}"
        + "@page{size:A4;margin:14mm 12mm 16mm;@bottom-center{content:\"page \" counter(page) \" of \" counter(pages);font:9pt sans-serif;color:#444}}"
        + "caption{caption-side:top;text-align:left;font-weight:bold;padding:4px 0}caption.sr{position:absolute;width:1px;height:1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}td.l,th.l{text-align:left}.ci{display:block;font-size:80%;color:#444}pre{background:#f6f6f6;padding:6px;overflow-x:auto}"
        + "@media print{body{margin:0;max-width:none;font-size:10pt}a{color:inherit;text-decoration:none}figure{margin:4px 2px}img{max-height:100mm}}";

    /// <summary>The id of the <paramref name="number"/>th chapter (counted from 1).</summary>
    public static string Anchor(int number) => $"section-{number}";

    /// <summary>A group's figures, each its PNG inlined with its alt text and caption.</summary>
    public static void Figures(StringBuilder html, FigureGroup group, byte[][] pngs)
    {
        for (var i = 0; i < pngs.Length; i++)
            html.Append("<figure><img alt=\"").Append(E(group.Figures[i].Alt ?? group.Figures[i].Caption)).Append("\" src=\"data:image/png;base64,")
                .Append(Convert.ToBase64String(pngs[i])).Append("\"><figcaption>").Append(E(group.Figures[i].Caption)).Append("</figcaption></figure>");
    }
}
