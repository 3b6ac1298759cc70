using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Stats;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The table of the methods that ran: how many samples each explained, its map's shape and its mean |attribution|.</summary>
public sealed class MethodsSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var (summary, inv) = (report.Summary, CultureInfo.InvariantCulture);
        var html = new StringBuilder("<table><tr><th>method</th><th>samples explained</th><th>map shape</th><th>mean |attribution|</th></tr>");
        foreach (var (name, m) in summary.Methods)
            html.Append(string.Create(inv, $"<tr><td>{E(name)}</td><td>{m.Samples} of {summary.Samples}</td><td>[{string.Join(", ", m.MapShape)}]</td><td>{m.MeanAbs:G4}</td></tr>"));
        return new ReportText("Methods", html.Append("</table>").ToString());
    }
}
