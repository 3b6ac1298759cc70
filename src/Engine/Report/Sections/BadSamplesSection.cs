using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Data.Images;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The images skipped as unreadable (<c>"onBadSample": "skip"</c>): how many, of which kinds, and the first few; summary.json's <c>badSamples</c>.</summary>
public sealed class BadSamplesSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Section<BadSamplesSummary>(BadSamplesFeature.Instance.Section) is not { } bad) return null;
        var inv = CultureInfo.InvariantCulture;
        if (bad.Skipped == 0) return new ReportText("Skipped images", "<p>No image was skipped: every one could be read and decoded.</p>");
        var html = new StringBuilder(string.Create(inv,
            $"<p>{bad.Skipped:N0} images could not be read and were left out of every statistic and table ({string.Join(", ", bad.ByKind.Select(k => string.Create(inv, $"{k.Value:N0} {k.Key}")))}); "))
            .Append("each is listed with its reason in <code>").Append(E(bad.Errors)).Append("</code>. The first:</p><table><tr><th>index</th><th class=\"l\">path</th><th class=\"l\">reason</th></tr>");
        foreach (var b in bad.First)
            html.Append("<tr><td>").Append(b.Index.ToString(inv)).Append("</td><td class=\"l\"><code>").Append(E(b.Location)).Append("</code></td><td class=\"l\">")
                .Append(E(b.Reason)).Append("</td></tr>");
        return new ReportText("Skipped images", html.Append("</table>").ToString());
    }
}
