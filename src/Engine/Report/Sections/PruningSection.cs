using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The pruning view: how much each channel of the layer matters alone, and the curve as the least important are zeroed together.</summary>
public sealed class PruningSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Views?.Pruning is not { } pruning) return null;
        var inv = CultureInfo.InvariantCulture;
        var measure = pruning.Labelled ? "accuracy" : "target probability";
        var baseline = pruning.BaselineInterval is { } b
            ? $"{EstimateText.Percent(b)}, a {EstimateText.Level(report.Summary.ErrorAnalysis?.Confidence ?? Stats.Intervals.DefaultConfidence)} Wilson interval"
            : string.Create(inv, $"{pruning.BaselineProbability:P2}, no interval (no labels)");
        var html = new StringBuilder("<p>")
            .Append(string.Create(inv, $"Each channel of the layer zeroed alone on {pruning.Samples} samples drawn at random in the dataset's proportions "))
            .Append(string.Create(inv, $"(baseline {measure} {baseline}"))
            .Append(report.Summary.ErrorAnalysis is { } e ? string.Create(inv, $"; on the whole dataset {e.Accuracy:P2}") : "")
            .Append(string.Create(inv, $"), and the change in {measure} it causes (negative: the removal hurts); then the least important channels zeroed together. "))
            .Append(pruning.MaxRemovable is { } k
                ? string.Create(inv, $"<b>{k} of {pruning.Order.Length}</b> channels can be zeroed for under one point of {measure} lost.")
                : "")
            .Append("</p><table><tr><th>rank (most important first)</th><th>channel</th><th>change when zeroed alone</th></tr>");
        var ranked = pruning.ByHarm.Select((c, r) => (c, r)).ToArray();
        var shown = ranked.Length <= 12 ? ranked : [.. ranked.Take(5), .. ranked.TakeLast(5)];
        foreach (var (channel, rank) in shown)
            html.Append(string.Create(inv, $"<tr><td>{rank + 1}</td><td>{channel}</td><td>{100 * pruning.Change[channel]:+0.00;−0.00;0.00} points</td></tr>"));
        return new ReportText("Pruning: how much of the layer the decisions need", html.Append("</table>").ToString());
    }

    public Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<FigureGroup>>(report.Summary.Views?.Pruning is not { Removed.Length: > 0 } pruning ? [] : [new("Pruning: the curve",
            [new("pruning-curve", "The least important channels zeroed together (dashed: the most that cost under one point)", () => Curve(pruning), CurveText(pruning))])]);

    /// <summary>The curve in numbers: where it starts and ends, and the dashed line.</summary>
    private static string CurveText(PruningView pruning)
    {
        var ys = pruning.Accuracy ?? pruning.MeanProbability!;
        var measure = pruning.Accuracy is null ? "mean target probability" : "accuracy";
        return string.Create(CultureInfo.InvariantCulture, $"Curve of {measure} against channels zeroed, {pruning.Removed.Length} points: {ys[0]:F3} with {pruning.Removed[0]} zeroed, {ys[^1]:F3} with {pruning.Removed[^1]}")
            + (pruning.MaxRemovable is { } k ? string.Create(CultureInfo.InvariantCulture, $"; dashed line at {k} channels.") : ".");
    }

    /// <summary>Accuracy (or the target's mean probability without labels) against the number of least important channels zeroed.</summary>
    private static byte[] Curve(PruningView pruning)
    {
        var plot = new ScottPlot.Plot();
        var xs = pruning.Removed.Select(k => (double)k).ToArray();
        var ys = pruning.Accuracy ?? pruning.MeanProbability!;
        plot.Add.Scatter(xs, ys);
        if (pruning.MaxRemovable is { } k)
        {
            var line = plot.Add.VerticalLine(k);
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.Color = ScottPlot.Colors.Gray;
        }
        plot.XLabel("least important channels zeroed");
        plot.YLabel(pruning.Accuracy is null ? "mean target probability" : "accuracy");
        return plot.GetImageBytes(560, 400, ScottPlot.ImageFormat.Png);
    }
}
