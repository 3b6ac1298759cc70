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
                new("sanity-spearman", "Rank correlation with the original maps as layers are re-initialised (dashed: the threshold)", () => Curves(sanity, spearman: true), CurvesText(sanity, spearman: true)),
                new("sanity-ssim", "SSIM with the original maps", () => Curves(sanity, spearman: false), CurvesText(sanity, spearman: false)),
            ]),
        };
        if (sanity.Cascade is { } file)
        {
            // The paper's figure: one sample's map of each method after each step of the cascade, one row per method.
            var cascade = await report.OpenAsync(file, ct);
            var (steps, mh, mw) = ((int)cascade.Header.Shape[1], (int)cascade.Header.Shape[2], (int)cascade.Header.Shape[3]);
            var methodNames = sanity.Methods.Keys.ToArray();
            var all = Array.ConvertAll(await cascade.ReadFloatsAsync(0, methodNames.Length, ct), v => (double)v);
            var figures = new List<Figure>();
            var inv = CultureInfo.InvariantCulture;
            for (var k = 0; k < methodNames.Length; k++)
            {
                var maps = Enumerable.Range(0, steps).Select(step => all.AsSpan((k * steps + step) * mh * mw, mh * mw).ToArray()).ToArray();
                // Each map on its own scale: the check compares ranks, and a re-initialised model's maps can be orders of magnitude apart.
                var signed = MapScale.Of(maps).Signed;
                var scales = maps.Select(m => MapScale.Of([m]) with { Signed = signed }).ToArray();
                var tiles = maps.Select((m, step) => new Tile(step == 0 ? "original" : $"to {sanity.Layers[step - 1]}", m, mh, mw, scales[step])).ToArray();
                var relative = new MapScale(signed, 1);
                var method = methodNames[k];
                var caption = $"#{sanity.ExampleIndex} {method}: the original model's map, then after re-initialising the layers from the output down to each one; "
                    + "each map scaled to its own 99th percentile of |value| (the check compares ranks).";
                var alt = string.Create(inv, $"Sample #{sanity.ExampleIndex}, {method}, {steps} maps of {mh}×{mw} along the cascade; Spearman with the original after all layers {sanity.Methods[method].Spearman[^1]:F3}. ")
                    + MapText.Describe("Original", maps[0], (1, mh, mw), scales[0]) + " "
                    + MapText.Describe($"Re-initialised {tiles[^1].Label}", maps[^1], (1, mh, mw), scales[^1]);
                figures.Add(new($"sanity-cascade-{method}", caption,
                    () => Heatmaps.Grid(tiles, Math.Min(steps, 8), mh, mw, new GridBar(relative, $"{method} × each map's own 99th percentile of |value|")), alt));
            }
            groups.Add(new("Sanity check: one sample along the cascade", figures));
        }
        return groups;
    }

    /// <summary>The curves in numbers: each method's similarity after the first layer and after all of them.</summary>
    private static string CurvesText(SanitySummary summary, bool spearman) =>
        string.Create(CultureInfo.InvariantCulture, $"{(spearman ? "Spearman rank correlation" : "SSIM")} with the original maps over {summary.Layers.Length} re-initialisation steps")
        + (spearman ? string.Create(CultureInfo.InvariantCulture, $", threshold {summary.Threshold}") : "") + ": "
        + string.Join("; ", summary.Methods.Select(m => string.Create(CultureInfo.InvariantCulture,
            $"{m.Key} {(spearman ? m.Value.Spearman : m.Value.Ssim)[0]:F3} after one layer, {(spearman ? m.Value.Spearman : m.Value.Ssim)[^1]:F3} after all{(m.Value.Insensitive ? " (flagged)" : "")}"))) + ".";

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
