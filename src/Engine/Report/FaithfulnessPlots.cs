using System.Globalization;
using System.Net;
using System.Text;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;

namespace ExplainCluster.Engine.Report;

/// <summary>The report's faithfulness section: one plot per curve kind, every method's mean curve against random, and a table of mean AUCs.</summary>
public static class FaithfulnessPlots
{
    public static byte[] Curves(FaithfulnessSummary summary, bool deletion)
    {
        var plot = new ScottPlot.Plot();
        var xs = Enumerable.Range(0, summary.Steps + 1).Select(k => (double)k / summary.Steps).ToArray();
        foreach (var (method, m) in summary.Methods)
        {
            var line = plot.Add.Scatter(xs, deletion ? m.DeletionCurve : m.InsertionCurve);
            line.LegendText = $"{method} (AUC {(deletion ? m.DeletionAuc : m.InsertionAuc).ToString("F3", CultureInfo.InvariantCulture)})";
            if (method == FaithfulnessSpec.Random)
            {
                line.Color = ScottPlot.Colors.Gray;
                line.LinePattern = ScottPlot.LinePattern.Dashed;
            }
        }
        plot.ShowLegend();
        plot.XLabel(deletion ? "fraction of pixels deleted" : "fraction of pixels inserted");
        plot.YLabel("target probability");
        plot.Axes.SetLimits(0, 1, 0, 1);
        return plot.GetImageBytes(560, 420, ScottPlot.ImageFormat.Png);
    }

    public static void Table(StringBuilder html, FaithfulnessSummary summary)
    {
        var inv = CultureInfo.InvariantCulture;
        html.Append(string.Create(inv, $"<h2>Faithfulness</h2><p>Mean AUC over all samples, {summary.Steps} steps; deletion: lower is better, insertion: higher is better.</p>"))
            .Append("<table><tr><th>method</th><th>deletion AUC</th><th>insertion AUC</th></tr>");
        foreach (var (method, m) in summary.Methods)
            html.Append(string.Create(inv, $"<tr><td>{WebUtility.HtmlEncode(method)}</td><td>{m.DeletionAuc:F4}</td><td>{m.InsertionAuc:F4}</td></tr>"));
        html.Append("</table>");
    }
}
