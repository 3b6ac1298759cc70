using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Stats;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Error analysis (with labels): accuracy and calibration, per-class metrics and the most confused pairs; the confusion matrix, reliability diagram and per-class accuracy.</summary>
public sealed class ErrorAnalysisSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.ErrorAnalysis is not { } e) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder();
        var level = EstimateText.Level(e.Confidence);
        html.Append(string.Create(inv, $"<p>Accuracy <b>{EstimateText.Percent(e.AccuracyInterval)}</b> on {e.AccuracyInterval.N} labelled samples, "))
            .Append(string.Create(inv, $"mean NLL {e.MeanNll:F4}, expected calibration error {e.ExpectedCalibrationError:F4}. "))
            .Append(string.Create(inv, $"Brackets are {level} Wilson intervals; n is the samples each proportion counts (recall: the class's labels, precision: its predictions).</p>"));
        html.Append("<table><tr><th>class</th><th>support</th><th>precision</th><th>n</th><th>recall</th><th>F1</th></tr>");
        foreach (var c in e.PerClass)
            html.Append(string.Create(inv, $"<tr><td>{E(c.Name)}</td><td>{c.Support}</td><td>{EstimateText.Percent(c.PrecisionInterval)}</td><td>{c.PrecisionInterval.N}</td>"))
                .Append(string.Create(inv, $"<td>{EstimateText.Percent(c.RecallInterval)}</td><td>{c.F1:F3}</td></tr>"));
        html.Append("</table><h3>Calibration bins</h3><table><tr><th>confidence</th><th>n</th><th>mean confidence</th><th>accuracy</th></tr>");
        foreach (var b in e.Reliability.Where(b => b.Count > 0))
            html.Append(string.Create(inv, $"<tr><td>{b.Lower:F3}–{b.Upper:F3}</td><td>{b.Count}</td><td>{b.MeanConfidence:F3}</td><td>{EstimateText.Percent(b.AccuracyInterval)}</td></tr>"));
        html.Append("</table><h3>Most confused pairs</h3><table><tr><th>label</th><th>predicted as</th><th>count</th></tr>");
        foreach (var p in e.MostConfused)
            html.Append(string.Create(inv, $"<tr><td>{E(p.LabelName)}</td><td>{E(p.PredictionName)}</td><td>{p.Count}</td></tr>"));
        return new ReportText("Error analysis", html.Append("</table>").ToString());
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.ErrorAnalysis is not { } errors) return [];
        var classes = report.Summary.Classes;
        var confusion = await (await report.OpenAsync(errors.Confusion, ct)).ReadIntegersAsync(0, classes.Length, ct);
        var inv = CultureInfo.InvariantCulture;
        var worst = errors.PerClass.Where(c => c.Support > 0).MinBy(c => c.Accuracy);
        var best = errors.PerClass.Where(c => c.Support > 0).MaxBy(c => c.Accuracy);
        var gap = errors.Reliability.Where(b => b.Count > 0).MaxBy(b => Math.Abs(b.Accuracy - b.MeanConfidence));
        return [new("Error analysis: plots",
        [
            new("confusion-matrix", "Confusion matrix (rows: label, columns: prediction; each cell its count of samples)", () => Confusion(confusion, classes), ConfusionText(confusion, classes)),
            new("reliability", string.Create(inv, $"Reliability diagram (ECE {errors.ExpectedCalibrationError:F4}, {errors.Reliability.Length} bins; grey: empty bins)"), () => Reliability(errors),
                string.Create(inv, $"Reliability diagram, {errors.Reliability.Length} confidence bins, {errors.Reliability.Count(b => b.Count > 0)} with samples, ECE {errors.ExpectedCalibrationError:F4}")
                + (gap is null ? "." : string.Create(inv, $"; largest gap in bin {gap.Lower:F2}–{gap.Upper:F2}: confidence {gap.MeanConfidence:F3}, accuracy {gap.Accuracy:F3} over {gap.Count} samples."))),
            new("per-class-accuracy", "Per-class accuracy (recall)", () => PerClassAccuracy(errors),
                best is null || worst is null ? string.Create(inv, $"Per-class accuracy of {errors.PerClass.Length} classes, none with samples.")
                : string.Create(inv, $"Per-class accuracy of {errors.PerClass.Length} classes: lowest {worst.Name} {worst.Accuracy:P1} (of {worst.Support}), highest {best.Name} {best.Accuracy:P1} (of {best.Support}).")),
        ])];
    }

    /// <summary>The confusion matrix in numbers: its size, how many on the diagonal, and the largest confusion.</summary>
    private static string ConfusionText(long[] confusion, string[] classes)
    {
        var n = classes.Length;
        var (total, diagonal) = (confusion.Sum(), Enumerable.Range(0, n).Sum(i => confusion[i * n + i]));
        var off = Enumerable.Range(0, n * n).Where(i => i / n != i % n).DefaultIfEmpty(-1).MaxBy(i => i < 0 ? -1 : confusion[i]);
        var text = string.Create(CultureInfo.InvariantCulture, $"Confusion matrix, {n} classes, {total} samples, {diagonal} on the diagonal ({(total == 0 ? 0 : (double)diagonal / total):P1})");
        return off < 0 || confusion[off] == 0 ? text + "; no sample confused."
            : text + string.Create(CultureInfo.InvariantCulture, $"; largest off-diagonal: {classes[off / n]}→{classes[off % n]} {confusion[off]}.");
    }

    /// <summary>Axes name every class up to this many; beyond it the names would overlap.</summary>
    private static bool NameClasses(int classes) => classes <= ReportContext.MaxClasses;

    /// <summary>The matrix on viridis with each cell's count written in it (white on the dark half, black on the light), every class named up to <see cref="ReportContext.MaxClasses"/>.</summary>
    private static byte[] Confusion(long[] confusion, string[] classes)
    {
        var n = classes.Length;
        var data = new double[n, n];
        for (var r = 0; r < n; r++)
            for (var c = 0; c < n; c++) data[r, c] = confusion[r * n + c];
        var plot = new ScottPlot.Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        var bar = plot.Add.ColorBar(heatmap);
        bar.Label = "samples";
        var max = Math.Max(1, confusion.Max());
        if (NameClasses(n))
        {
            for (var r = 0; r < n; r++)
                for (var c = 0; c < n; c++)
                {
                    var count = plot.Add.Text(confusion[r * n + c].ToString(CultureInfo.InvariantCulture), c, n - 1 - r);
                    count.LabelAlignment = ScottPlot.Alignment.MiddleCenter;
                    count.LabelFontSize = n <= 12 ? 12 : 9;
                    count.LabelFontColor = confusion[r * n + c] > 0.6 * max ? ScottPlot.Colors.Black : ScottPlot.Colors.White;
                }
            plot.Axes.Left.TickGenerator = Ticks(classes, reversed: true);
            plot.Axes.Bottom.TickGenerator = Ticks(classes, reversed: false);
            RotateBottomLabels(plot, classes);
        }
        plot.YLabel("label");
        plot.XLabel("prediction");
        return plot.GetImageBytes(720, 640, ScottPlot.ImageFormat.Png);
    }

    /// <summary>Names at the positions 0, 1, …, or (reversed) the first at the top of a vertical axis.</summary>
    internal static ScottPlot.TickGenerators.NumericManual Ticks(string[] names, bool reversed)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var i = 0; i < names.Length; i++) ticks.AddMajor(reversed ? names.Length - 1 - i : i, names[i]);
        return ticks;
    }

    /// <summary>Class names slanted under the axis, with room for the longest so none is clipped.</summary>
    private static void RotateBottomLabels(ScottPlot.Plot plot, IEnumerable<string> names)
    {
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 30 + 6.5f * names.Max(n => n.Length);
    }

    private static byte[] Reliability(ErrorAnalysis errors)
    {
        var plot = new ScottPlot.Plot();
        var bars = errors.Reliability.Select(b => new ScottPlot.Bar
        {
            Position = (b.Lower + b.Upper) / 2,
            Value = b.Accuracy,
            Size = b.Upper - b.Lower,
            FillColor = b.Count == 0 ? ScottPlot.Colors.LightGray : ScottPlot.Colors.SteelBlue,
        }).ToArray();
        plot.Add.Bars(bars);
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = ScottPlot.Colors.Red;
        diagonal.LinePattern = ScottPlot.LinePattern.Dashed;
        plot.XLabel("confidence");
        plot.YLabel("accuracy");
        plot.Axes.SetLimits(0, 1, 0, 1);
        return plot.GetImageBytes(560, 420, ScottPlot.ImageFormat.Png);
    }

    private static byte[] PerClassAccuracy(ErrorAnalysis errors)
    {
        var plot = new ScottPlot.Plot();
        plot.Add.Bars(errors.PerClass.Select(c => c.Accuracy).ToArray());
        if (NameClasses(errors.PerClass.Length))
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            foreach (var c in errors.PerClass) ticks.AddMajor(c.Class, c.Name);
            plot.Axes.Bottom.TickGenerator = ticks;
            RotateBottomLabels(plot, errors.PerClass.Select(c => c.Name));
        }
        plot.Axes.SetLimitsY(0, 1);
        plot.YLabel("accuracy");
        return plot.GetImageBytes(640, 420, ScottPlot.ImageFormat.Png);
    }
}
