using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Tabular;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// A table job's feature importance: per method, each feature's mean |attribution| with its interval and its mean signed
/// attribution, most important first, as a table and as bars; then a few explained rows as waterfall charts (the
/// highest-loss rows, by the first additive method that explained every row).
/// </summary>
public sealed class FeatureImportanceSection : IReportSection
{
    /// <summary>Methods whose values add up to the explained output's change from a reference (efficiency), in order of preference for the waterfalls.</summary>
    private static readonly string[] Additive = ["integrated-gradients", "grad-x-input", "kernel-shap", "permutation-shap"];

    /// <summary>Rows drawn as waterfalls, and features a waterfall shows before pooling the rest.</summary>
    private const int Rows = 4, Shown = 8;

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.FeatureImportance is not { } importance) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder(string.Create(inv,
            $"<p>Each feature's attribution is the sum over the elements it takes in the model's vector (a one-hot feature's levels), so it reads per column of the table. Mean |attribution| over the samples each method explained, with its {EstimateText.Level(importance.Confidence)} interval (normal, from the samples' spread); the mean signed attribution says which way the feature pushes the explained class on average. The bars after the tables show the same means and intervals.</p>"));
        foreach (var method in importance.Methods)
        {
            html.Append(string.Create(inv, $"<p><b>{E(method.Method)}</b>, {method.Samples:N0} samples</p>"))
                .Append("<table><tr><th>feature</th><th>mean |attribution|</th><th>mean attribution</th></tr>");
            foreach (var f in method.Features.OrderByDescending(f => f.MeanAbs.Value ?? 0))
                html.Append(string.Create(inv, $"<tr><td class=\"l\">{E(f.Feature)}</td><td>{EstimateText.Number(f.MeanAbs, "G4")}</td><td>{f.MeanAttribution:G4}</td></tr>"));
            html.Append("</table>");
        }
        PerClass(html, importance, report.Summary.Classes);
        if (report.Summary.SpLime is { } pick) SpLime(html, pick);
        return new ReportText("Feature importance", html.ToString());
    }

    /// <summary>
    /// SP-LIME's pick: the lime explanations that together cover the features most important over all of them, in pick
    /// order, each with its largest weights (the ones the pick counted) and the share of the importance covered so far.
    /// </summary>
    private static void SpLime(StringBuilder html, SpLimeSummary pick)
    {
        if (pick.Picked.Length == 0) return;
        var inv = CultureInfo.InvariantCulture;
        var total = pick.Picked[^1].Coverage;
        html.Append(string.Create(inv, $"<p><b>Representative lime explanations</b> (SP-LIME, lime's submodular pick): the {pick.Picked.Length} of the {pick.Explained:N0} rows lime explained that together cover the most global importance (each feature's √Σ|weight| over all rows, counting each row's {pick.KeptFeatures} largest weights), picked greedily. Read these rows to see the kinds of reasons the model gives; summary.json has each row's every weight (<code>spLime</code>).</p>"))
            .Append("<table><tr><th>pick</th><th>dataset index</th><th>importance covered</th><th class=\"l\">largest weights</th></tr>");
        for (var p = 0; p < pick.Picked.Length; p++)
        {
            var row = pick.Picked[p];
            var largest = string.Join(", ", Enumerable.Range(0, row.Weights.Length).OrderByDescending(j => Math.Abs(row.Weights[j])).ThenBy(j => j).Take(pick.KeptFeatures)
                .Select(j => string.Create(inv, $"{E(pick.Features[j])} {row.Weights[j]:+0.###;-0.###}")));
            html.Append(string.Create(inv, $"<tr><td>{p + 1}</td><td>{row.Index}</td><td>{(total > 0 ? row.Coverage / total : 0):P0}</td><td class=\"l\">{largest}</td></tr>"));
        }
        html.Append("</table>");
    }

    /// <summary>
    /// Per class, for the method that explained the most rows (the first of those): does the model lean on different features
    /// for one class than for another? Every method's is in summary.json; more than <see cref="ReportContext.MaxClasses"/>
    /// classes make no table.
    /// </summary>
    private static void PerClass(StringBuilder html, FeatureImportanceSummary importance, string[] classes)
    {
        var method = importance.Methods.Where(m => m.PerClass.Length > 0).OrderByDescending(m => m.Samples).FirstOrDefault();
        if (method is null || classes.Length > ReportContext.MaxClasses) return;
        var shown = method.PerClass.Where(c => c.Samples > 0).ToArray();
        var inv = CultureInfo.InvariantCulture;
        html.Append(string.Create(inv, $"<p><b>{E(method.Method)} by class</b>: each feature's mean |attribution| over the rows explained for each class (the class in the column), with its {EstimateText.Level(importance.Confidence)} interval; the other methods' are in summary.json (<code>features.methods[].perClass</code>).</p>"))
            .Append("<table><tr><th>feature</th>");
        foreach (var c in shown) html.Append(string.Create(inv, $"<th>{E(c.Name)} ({c.Samples:N0})</th>"));
        html.Append("</tr>");
        foreach (var j in Enumerable.Range(0, importance.Features.Length).OrderByDescending(j => method.Features[j].MeanAbs.Value ?? 0))
        {
            html.Append($"<tr><td class=\"l\">{E(importance.Features[j])}</td>");
            foreach (var c in shown) html.Append("<td>").Append(EstimateText.Cell(c.MeanAbs[j], "G4")).Append("</td>");
            html.Append("</tr>");
        }
        html.Append("</table>");
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.FeatureImportance is not { } importance) return [];
        var level = EstimateText.Level(importance.Confidence);
        var bars = importance.Methods.Where(m => m.Samples > 0).Select(m => new Figure($"importance-{m.Method}",
            string.Create(CultureInfo.InvariantCulture, $"{m.Method}: mean |attribution| per feature over {m.Samples:N0} samples, with its {level} interval"),
            () => Bars(m), "Mean |attribution|, most important first: " + string.Join("; ", Ranked(m).Select(f => $"{f.Feature} {EstimateText.Number(f.MeanAbs, "G3")}"))));
        return [new FigureGroup("Feature importance: bars", [.. bars]), new FigureGroup("Explained rows", await WaterfallsAsync(report, importance, ct))];
    }

    private static IEnumerable<FeatureImportance> Ranked(MethodFeatureImportance m) => m.Features.OrderByDescending(f => f.MeanAbs.Value ?? 0);

    private static byte[] Bars(MethodFeatureImportance m)
    {
        var ranked = Ranked(m).ToArray();
        var plot = new ScottPlot.Plot();
        var bars = plot.Add.Bars(ranked.Select((f, i) => new ScottPlot.Bar
        {
            Position = ranked.Length - 1 - i,
            Value = f.MeanAbs.Value ?? 0,
            Error = f.MeanAbs is { Low: { } low, High: { } high } ? (high - low) / 2 : 0,
            FillColor = ScottPlot.Colors.SteelBlue,
        }).ToArray());
        bars.Horizontal = true;
        plot.Axes.Left.TickGenerator = ErrorAnalysisSection.Ticks([.. ranked.Select(f => f.Feature)], reversed: true);
        plot.Axes.Left.MinimumSize = 10 + 6.5f * ranked.Max(f => f.Feature.Length);
        plot.XLabel($"mean |{m.Method}|");
        plot.Axes.SetLimitsX(0, ranked.Max(f => f.MeanAbs.High ?? f.MeanAbs.Value ?? 0) * 1.05 + 1e-12);
        return plot.GetImageBytes(640, 80 + 26 * ranked.Length, ScottPlot.ImageFormat.Png);
    }

    /// <summary>
    /// The highest-loss rows (summary's error analysis), each as a waterfall of the first additive method that explained
    /// every row: from the explained output at the method's reference (the output minus the row's attributions) to the
    /// row's output, feature by feature, largest first.
    /// </summary>
    private static async Task<IReadOnlyList<Figure>> WaterfallsAsync(ReportContext report, FeatureImportanceSummary importance, CancellationToken ct)
    {
        var summary = report.Summary;
        var method = Additive.FirstOrDefault(m => summary.Methods.TryGetValue(m, out var s) && s.Samples == summary.Samples);
        if (method is null || summary.ErrorAnalysis is not { } errors) return [];
        var figures = new List<Figure>();
        foreach (var row in errors.HighestLoss.Take(Rows))
        {
            var values = await ReportContext.ReadRowAsync(await report.OpenAsync(OutputLayout.AttributionPart(method, row.Shard), ct), row.Row, ct);
            var logits = await ReportContext.ReadRowAsync(await report.OpenAsync(OutputLayout.LogitsPart(row.Shard), ct), row.Row, ct);
            var target = report.Manifest.Target == "label" ? row.Label : row.Prediction;
            var classes = summary.Classes;
            var steps = Steps(importance.Features, values);
            var output = logits[target];
            var start = output - values.Sum();
            var caption = string.Create(CultureInfo.InvariantCulture,
                $"#{row.Index}: label {classes[row.Label]}, predicted {classes[row.Prediction]} ({row.Confidence:P0}), loss {row.Loss:F2}; {method}, logit of {classes[target]}: {start:G3} at the reference, {output:G3} for the row");
            var alt = string.Join("; ", steps.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Name} {s.Value:+0.###;-0.###}")));
            figures.Add(new Figure($"waterfall-{row.Index}", caption, () => Waterfall(steps, start, output, $"logit of {classes[target]} ({method})"), alt));
        }
        return figures;
    }

    /// <summary>The <see cref="Shown"/> largest contributions by |value|, then the rest pooled (when more than one is left).</summary>
    public static IReadOnlyList<(string Name, double Value)> Steps(string[] features, double[] values)
    {
        var order = Enumerable.Range(0, features.Length).OrderByDescending(j => Math.Abs(values[j])).ThenBy(j => j).ToArray();
        var shown = order.Length <= Shown + 1 ? order : order[..Shown];
        var steps = shown.Select(j => (features[j], values[j])).ToList();
        if (shown.Length < order.Length)
            steps.Add(($"{order.Length - shown.Length} other features", order[shown.Length..].Sum(j => values[j])));
        return steps;
    }

    private static byte[] Waterfall(IReadOnlyList<(string Name, double Value)> steps, double start, double output, string label)
    {
        var plot = new ScottPlot.Plot();
        var (bars, running) = (new List<ScottPlot.Bar>(), start);
        for (var i = 0; i < steps.Count; i++)
        {
            var next = running + steps[i].Value;
            bars.Add(new ScottPlot.Bar
            {
                Position = steps.Count - 1 - i,
                ValueBase = running,
                Value = next,
                FillColor = steps[i].Value >= 0 ? ScottPlot.Colors.SteelBlue : ScottPlot.Colors.IndianRed,
                Label = steps[i].Value.ToString("+0.###;-0.###", CultureInfo.InvariantCulture),
            });
            running = next;
        }
        var plotted = plot.Add.Bars(bars.ToArray());
        plotted.Horizontal = true;
        plotted.ValueLabelStyle.FontSize = 11;
        foreach (var (x, colour, text) in new[] { (start, ScottPlot.Colors.Gray, "reference"), (output, ScottPlot.Colors.Black, "this row") })
        {
            var line = plot.Add.VerticalLine(x);
            line.LineColor = colour;
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.Text = text;
        }
        plot.Axes.Left.TickGenerator = ErrorAnalysisSection.Ticks([.. steps.Select(s => s.Name)], reversed: true);
        plot.Axes.Left.MinimumSize = 10 + 6.5f * steps.Max(s => s.Name.Length);
        plot.XLabel(label);
        var ends = bars.SelectMany(b => new[] { b.ValueBase, b.Value }).Append(start).ToArray();
        var (low, high) = (ends.Min(), ends.Max());
        plot.Axes.SetLimitsX(low - 0.05 * (high - low) - 1e-9, high + 0.18 * (high - low) + 1e-9); // room for the labels on the right
        return plot.GetImageBytes(640, 100 + 28 * steps.Count, ScottPlot.ImageFormat.Png);
    }
}
