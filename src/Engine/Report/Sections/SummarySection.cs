using System.Text;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The findings in sentences (<see cref="Findings"/>): what a reader who reads nothing else should know.</summary>
public sealed class SummarySection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var html = new StringBuilder("<ul>");
        foreach (var finding in Findings.Of(report.Manifest, report.Summary)) html.Append("<li>").Append(E(finding.Text)).Append("</li>");
        return new ReportText(null, html.Append("</ul>").ToString());
    }
}
