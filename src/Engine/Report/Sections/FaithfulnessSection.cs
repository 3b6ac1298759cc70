using System.Globalization;
using System.Text;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Verdicts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Faithfulness: a table of mean AUCs, and one plot per curve kind with every method's mean curve against random.</summary>
public sealed class FaithfulnessSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Faithfulness is not { } summary) return null;
        var inv = CultureInfo.InvariantCulture;
        var level = EstimateText.Level(report.Summary.Verdicts?.Confidence ?? Stats.Intervals.DefaultConfidence);
        var html = new StringBuilder(string.Create(inv, $"<p>Mean AUC with its {level} interval over the samples each method explained, {summary.Steps} steps; "))
            .Append("deletion: lower is better, insertion: higher is better. A method with a subset is evaluated on its subset only, ")
            .Append("whose strata (target class × correct) are not the dataset's: its means here are the subset's, and the verdicts reweight them.</p>")
            .Append("<table><tr><th>method</th><th>samples</th><th>deletion AUC</th><th>insertion AUC</th></tr>");
        foreach (var (method, m) in summary.Methods)
            html.Append(string.Create(inv, $"<tr><td>{E(method)}</td><td>{m.Samples}{(m.Samples < summary.Samples ? " (subset)" : "")}</td>"))
                .Append(string.Create(inv, $"<td>{EstimateText.Number(m.Deletion)}</td><td>{EstimateText.Number(m.Insertion)}</td></tr>"));
        return new ReportText("Faithfulness", html.Append("</table>").ToString());
    }

    public Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<FigureGroup>>(report.Summary.Faithfulness is not { } faithfulness ? [] : [new("Faithfulness curves",
        [
            new("faithfulness-deletion", "Deletion curves (mean target probability)", () => Curves(faithfulness, deletion: true), CurvesText(faithfulness, deletion: true)),
            new("faithfulness-insertion", "Insertion curves (mean target probability)", () => Curves(faithfulness, deletion: false), CurvesText(faithfulness, deletion: false)),
        ])]);

    /// <summary>The curves in numbers: each method's AUC and where its curve ends.</summary>
    private static string CurvesText(FaithfulnessSummary summary, bool deletion) =>
        string.Create(CultureInfo.InvariantCulture, $"{(deletion ? "Deletion" : "Insertion")} curves of {summary.Methods.Count} orderings over {summary.Steps} steps, mean target probability; AUC ")
        + string.Join(", ", summary.Methods.Select(m => string.Create(CultureInfo.InvariantCulture,
            $"{m.Key} {(deletion ? m.Value.DeletionAuc : m.Value.InsertionAuc):F3} (from {(deletion ? m.Value.DeletionCurve : m.Value.InsertionCurve)[0]:F3} to {(deletion ? m.Value.DeletionCurve : m.Value.InsertionCurve)[^1]:F3})"))) + ".";

    private static byte[] Curves(FaithfulnessSummary summary, bool deletion)
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
}
