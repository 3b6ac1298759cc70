using System.Globalization;
using System.Text;
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
        var html = new StringBuilder("<p>")
            .Append(string.Create(inv, $"Each channel of the layer zeroed alone on {pruning.Samples} samples (stratified by class and correctness), "))
            .Append(string.Create(inv, $"and the drop in {measure} it causes; then the least important channels zeroed together. "))
            .Append(pruning.MaxRemovable is { } k
                ? string.Create(inv, $"<b>{k} of {pruning.Order.Length}</b> channels can be zeroed for under one point of {measure} lost ")
                  + string.Create(inv, $"(from {(pruning.BaselineAccuracy ?? pruning.BaselineProbability):P2}).")
                : "")
            .Append("</p><table><tr><th>rank</th><th>channel</th><th>drop when zeroed alone</th></tr>");
        var shown = pruning.Order.Length <= 12 ? pruning.Order.Select((c, r) => (c, r))
            : pruning.Order.Select((c, r) => (c, r)).Take(5).Concat(pruning.Order.Select((c, r) => (c, r)).TakeLast(5));
        foreach (var (channel, rank) in shown)
            html.Append(string.Create(inv, $"<tr><td>{rank + 1}</td><td>{channel}</td><td>{pruning.Drop[channel]:P2}</td></tr>"));
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
