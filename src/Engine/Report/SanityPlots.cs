using System.Globalization;
using System.Net;
using System.Text;
using ExplainCluster.Engine.Sanity;

namespace ExplainCluster.Engine.Report;

/// <summary>The report's sanity check: a table with the verdict per method, its curves along the cascade, and one sample's maps.</summary>
public static class SanityPlots
{
    /// <param name="spearman">The rank correlation curves, else the SSIM curves.</param>
    public static byte[] Curves(SanitySummary summary, bool spearman)
    {
        var plot = new ScottPlot.Plot();
        var xs = Enumerable.Range(1, summary.Layers.Length).Select(k => (double)k).ToArray();
        foreach (var (method, m) in summary.Methods)
        {
            var line = plot.Add.Scatter(xs, spearman ? m.Spearman : m.Ssim);
            line.LegendText = m.Insensitive ? $"{method} (flagged)" : method;
        }
        if (spearman)
        {
            var threshold = plot.Add.HorizontalLine(summary.Threshold);
            threshold.Color = ScottPlot.Colors.Gray;
            threshold.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.ShowLegend();
        plot.XLabel("layers re-initialised, from the output down");
        plot.YLabel(spearman ? "Spearman with the original maps" : "SSIM with the original maps");
        plot.Axes.SetLimits(0.5, summary.Layers.Length + 0.5, -0.2, 1.05);
        return plot.GetImageBytes(560, 420, ScottPlot.ImageFormat.Png);
    }

    public static void Table(StringBuilder html, SanitySummary summary)
    {
        var inv = CultureInfo.InvariantCulture;
        html.Append(string.Create(inv, $"<h2>Sanity check: model randomisation</h2><p>Every map method ran again on {summary.Samples} samples "))
            .Append("(stratified by target class and correctness) after re-initialising the model's layers one by one from the output down ")
            .Append("(Adebayo et al., 2018). A map that explains the model must change as its weights are destroyed: a rank correlation with ")
            .Append(string.Create(inv, $"the original maps still above {summary.Threshold} after every layer is re-initialised means the method shows "))
            .Append("the input, not what the model learned.</p><table><tr><th>method</th><th>Spearman, all layers re-initialised</th><th>SSIM</th><th>verdict</th></tr>");
        foreach (var (method, m) in summary.Methods)
            html.Append(string.Create(inv, $"<tr><td>{WebUtility.HtmlEncode(method)}</td><td>{m.Spearman[^1]:F3}</td><td>{m.Ssim[^1]:F3}</td><td>"))
                .Append(m.Insensitive ? "<b>flagged: insensitive to the model's parameters</b>" : "depends on the model").Append("</td></tr>");
        html.Append("</table>");
    }
}
