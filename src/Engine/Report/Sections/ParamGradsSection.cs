using System.Globalization;
using System.Text;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Verdicts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Per-sample parameter gradients: what ran per layer, the norm's distribution (overall, correct vs misclassified, per class), and the samples with the largest.</summary>
public sealed class ParamGradsSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.ParamGrads is not { } summary) return null;
        var inv = CultureInfo.InvariantCulture;
        var level = EstimateText.Level(report.Summary.Verdicts?.Confidence ?? Stats.Intervals.DefaultConfidence);
        var html = new StringBuilder("<p>For each sample, the gradient of its loss (cross-entropy against its label, or its ")
            .Append("prediction without labels) with respect to the model's parameters. Samples the model finds hard or mislabelled have large ")
            .Append($"gradients: the mean norm is {Mean(summary.Correct)} over the correct samples and {Mean(summary.Incorrect)} over the misclassified ones ")
            .Append($"({level} intervals of the mean). The largest are drawn below.</p>")
            .Append("<table><tr><th>layer</th><th>parameters</th><th>mean gradient norm</th><th>computed</th></tr>");
        foreach (var l in summary.Layers)
            html.Append(string.Create(inv, $"<tr><td>{E(l.Name)}</td><td>{l.Parameters}</td><td>{l.MeanNorm:G4}</td><td>{E(l.How)}</td></tr>"));
        html.Append("</table><h3>Per target class</h3><table><tr><th>class</th><th>samples</th><th>mean norm ({level} interval)</th><th>mean norm, correct</th><th>mean norm, misclassified</th></tr>");
        foreach (var c in summary.PerClass)
            html.Append(string.Create(inv, $"<tr><td>{E(c.Name)}</td><td>{c.All.Count}</td><td>{Mean(c.All)}</td><td>{Mean(c.Correct)}</td><td>{Mean(c.Incorrect)}</td></tr>"));
        return new ReportText("Per-sample parameter gradients", html.Append("</table>").ToString());
    }

    /// <summary>A group's mean norm with its interval and the samples behind it, so that a mean over two samples does not read as one over two thousand.</summary>
    private static string Mean(Group g) => g.MeanNorm is not { } mean ? "–"
        : g.MeanNormInterval is { Low: not null } interval ? $"{EstimateText.Number(interval, "G4")}, n = {g.Count}"
        : string.Create(CultureInfo.InvariantCulture, $"{mean:G4}, n = {g.Count}");

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.ParamGrads is not { } paramGrads) return [];
        var classes = report.Summary.Classes;
        var largest = await report.SamplesAsync("param-grads-largest", paramGrads.Largest.Select(e =>
            ($"#{e.Index}: label {(e.Label < 0 ? "none" : classes[e.Label])}, predicted {classes[e.Prediction]}, gradient norm {e.Norm:G3}", e.Index, e.Shard, e.Row)), ct);
        return
        [
            new("Per-sample parameter gradients: plots",
            [
                new("param-grads-histogram", "Whole-gradient norm, correct and misclassified samples", () => Histogram(paramGrads),
                    string.Create(CultureInfo.InvariantCulture, $"Histogram of log10 whole-gradient norms in {paramGrads.Log10Edges.Length - 1} bins: {paramGrads.Correct.Count} correct samples, mean norm {paramGrads.Correct.MeanNorm:G3}; {paramGrads.Incorrect.Count} misclassified, mean norm {paramGrads.Incorrect.MeanNorm:G3}.")),
                new("param-grads-layers", "Mean gradient norm per layer", () => Layers(paramGrads), LayersText(paramGrads)),
            ]),
            new("Largest parameter gradients (candidate label errors)", largest),
        ];
    }

    /// <summary>The bars in numbers: how many layers, and the largest.</summary>
    private static string LayersText(ParamGradSummary summary)
    {
        var largest = summary.Layers.Where(l => l.MeanNorm is not null).MaxBy(l => l.MeanNorm);
        return string.Create(CultureInfo.InvariantCulture, $"Bars of the mean gradient norm of {summary.Layers.Length} layers")
            + (largest is null ? "." : string.Create(CultureInfo.InvariantCulture, $"; largest {largest.Name} at {largest.MeanNorm:G3}."));
    }

    private static byte[] Histogram(ParamGradSummary summary)
    {
        var plot = new ScottPlot.Plot();
        var centres = Enumerable.Range(0, summary.Log10Edges.Length - 1).Select(b => (summary.Log10Edges[b] + summary.Log10Edges[b + 1]) / 2).ToArray();
        foreach (var (group, label) in new[] { (summary.Correct, "correct"), (summary.Incorrect, "misclassified") })
        {
            if (group.Count == 0) continue;
            var line = plot.Add.Scatter(centres, group.Histogram.Select(c => (double)c / group.Count).ToArray());
            line.LegendText = string.Create(CultureInfo.InvariantCulture, $"{label} (n={group.Count}, mean {group.MeanNorm:G3})");
        }
        plot.ShowLegend();
        plot.XLabel("log10 of the whole-gradient norm");
        plot.YLabel("fraction of samples");
        return plot.GetImageBytes(560, 420, ScottPlot.ImageFormat.Png);
    }

    private static byte[] Layers(ParamGradSummary summary)
    {
        var plot = new ScottPlot.Plot();
        plot.Add.Bars(summary.Layers.Select(l => l.MeanNorm ?? 0).ToArray());
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. summary.Layers.Select((l, i) => (double)i)], [.. summary.Layers.Select(l => l.Name)]);
        plot.XLabel("layer (module name)");
        plot.YLabel("mean gradient norm");
        return plot.GetImageBytes(Math.Max(560, 24 * summary.Layers.Length), 420, ScottPlot.ImageFormat.Png);
    }
}
