using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Sanity;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The sanity check: a table with the verdict per method, its curves along the cascade, and one sample's maps along it.</summary>
public sealed class SanitySection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Sanity is not { } summary) return null;
        var inv = CultureInfo.InvariantCulture;
        var reweighted = summary.Methods.Values.Any(m => m.Reweighted);
        var html = new StringBuilder(string.Create(inv, $"<p>Every map method ran again on {summary.Samples} samples "))
            .Append("(stratified by target class and correctness")
            .Append(reweighted ? ", so errors are over-represented: the correlation after every layer is re-initialised is reweighted to the dataset's strata, with its interval" : "")
            .Append(") after re-initialising the model's layers one by one from the output down ")
            .Append("(Adebayo et al., 2018). A map that explains the model must change as its weights are destroyed: a rank correlation with ")
            .Append(string.Create(inv, $"the original maps still above {summary.Threshold} after every layer is re-initialised means the method shows "))
            .Append("the input, not what the model learned.</p><table><tr><th>method</th><th>Spearman, all layers re-initialised</th><th>n</th><th>SSIM</th><th>verdict</th></tr>");
        foreach (var (method, m) in summary.Methods)
            html.Append(string.Create(inv, $"<tr><td>{E(method)}</td><td>{(m.Last is { } last ? EstimateText.Number(last, "F3") : m.Spearman[^1].ToString("F3", inv))}</td>"))
                .Append(string.Create(inv, $"<td>{m.Last?.N ?? summary.Samples}{(m.Reweighted ? " (reweighted)" : "")}</td><td>{m.Ssim[^1]:F3}</td><td>"))
                .Append(m.Insensitive ? "<b>flagged: insensitive to the model's parameters</b>" : "depends on the model").Append("</td></tr>");
        return new ReportText("Sanity check: model randomisation", html.Append("</table>").ToString());
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.Sanity is not { } sanity) return [];
        var groups = new List<FigureGroup>
        {
            new("Sanity check: curves",
            [
                new("sanity-spearman", "Rank correlation with the original maps as layers are re-initialised (dashed: the threshold)", () => Curves(sanity, spearman: true)),
                new("sanity-ssim", "SSIM with the original maps", () => Curves(sanity, spearman: false)),
            ]),
        };
        if (sanity.Cascade is { } file)
        {
            // The paper's figure: one sample's map of each method after each step of the cascade.
            var cascade = await report.OpenAsync(file, ct);
            var (steps, mh, mw) = ((int)cascade.Header.Shape[1], (int)cascade.Header.Shape[2], (int)cascade.Header.Shape[3]);
            var methodNames = sanity.Methods.Keys.ToArray();
            var all = Array.ConvertAll(await cascade.ReadFloatsAsync(0, methodNames.Length, ct), v => (double)v);
            var figures = new List<Figure>();
            for (var k = 0; k < methodNames.Length; k++)
                for (var step = 0; step < steps; step++)
                {
                    var scores = all.AsSpan((k * steps + step) * mh * mw, mh * mw).ToArray();
                    var caption = step == 0 ? $"#{sanity.ExampleIndex} {methodNames[k]}: original model" : $"{methodNames[k]}: re-initialised down to {sanity.Layers[step - 1]}";
                    figures.Add(new($"sanity-cascade-{methodNames[k]}-{step}", caption, () => Heatmaps.Overlay(null, mh, mw, scores, mh, mw)));
                }
            groups.Add(new("Sanity check: one sample along the cascade", figures));
        }
        return groups;
    }

    /// <param name="spearman">The rank correlation curves, else the SSIM curves.</param>
    private static byte[] Curves(SanitySummary summary, bool spearman)
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
}
