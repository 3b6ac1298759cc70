using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Trust;
using ExplainCluster.Engine.Verdicts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Trust metrics: per method each metric's mean with its interval and n, then per method a table of the metrics' means per target class.</summary>
public sealed class TrustSection : IReportSection
{
    /// <summary>The most classes a per-class table lists (those with the most samples).</summary>
    private const int MaxClasses = 30;

    private static readonly Dictionary<string, string> Headings = new(StringComparer.Ordinal)
    {
        [TrustMetrics.Sparseness] = "sparseness ↑",
        [TrustMetrics.Complexity] = "complexity ↓",
        [TrustMetrics.MaxSensitivity] = "max-sensitivity ↓",
        [TrustMetrics.AvgSensitivity] = "avg-sensitivity ↓",
        [TrustMetrics.RandomLogit] = "random-logit SSIM ↓",
        [TrustMetrics.RoadMorf] = "ROAD MoRF ↓",
        [TrustMetrics.RoadLerf] = "ROAD LeRF ↑",
        [TrustMetrics.Road] = "ROAD (LeRF − MoRF)/2 ↑",
    };

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Trust is not { } trust) return null;
        var inv = CultureInfo.InvariantCulture;
        var level = EstimateText.Level(report.Summary.Verdicts?.Confidence ?? Stats.Intervals.DefaultConfidence);
        var html = new StringBuilder(string.Create(inv, $"<p>Quantus' metrics over the dataset: each metric's mean with its {level} interval and the samples behind it "))
            .Append("(↑: higher is better, ↓: lower is better). Sparseness (Gini index of |map|) and complexity (entropy of the normalised |map|) come from ")
            .Append("every map a method made; max- and avg-sensitivity (the map's relative change under uniform input noise), random-logit (SSIM of the ")
            .Append("map for a random other class against the target's) and ROAD (the target's probability after the most or least relevant pixels are ")
            .Append("removed and filled in by noisy linear imputation) run the method again on the <code>trust</code> subset.</p>")
            .Append("<table><tr><th>method</th>");
        foreach (var metric in trust.Metrics) html.Append($"<th>{E(Headings.GetValueOrDefault(metric, metric))}</th>");
        html.Append("</tr>");
        foreach (var (method, metrics) in trust.Methods)
        {
            html.Append($"<tr><td>{E(method)}</td>");
            foreach (var metric in trust.Metrics)
                html.Append(metrics.GetValueOrDefault(metric)?.Mean is { } e
                    ? $"<td>{EstimateText.Cell(e)}</td>" : "<td>–</td>");
            html.Append("</tr>");
        }
        html.Append("</table>");
        foreach (var (method, metrics) in trust.Methods)
        {
            var classes = metrics.Values.SelectMany(m => m.PerClass).GroupBy(c => (c.Class, c.Name))
                .Select(g => (g.Key.Class, g.Key.Name, N: g.Max(c => c.Mean.N))).OrderByDescending(c => c.N).ThenBy(c => c.Class).Take(MaxClasses).OrderBy(c => c.Class).ToArray();
            html.Append(string.Create(inv, $"<p><b>{E(method)}</b> per target class (mean with its interval{(classes.Length == MaxClasses ? $"; the {MaxClasses} classes with the most samples" : "")}):</p>"))
                .Append("<table><tr><th>class</th>");
            foreach (var metric in trust.Metrics) html.Append($"<th>{E(Headings.GetValueOrDefault(metric, metric))}</th>");
            html.Append("</tr>");
            foreach (var (c, name, _) in classes)
            {
                html.Append($"<tr><td>{E(name)}</td>");
                foreach (var metric in trust.Metrics)
                    html.Append(metrics.GetValueOrDefault(metric)?.PerClass.FirstOrDefault(x => x.Class == c) is { } row
                        ? $"<td>{EstimateText.Cell(row.Mean, "F3")}</td>" : "<td>–</td>");
                html.Append("</tr>");
            }
            html.Append("</table>");
        }
        return new ReportText("Trust metrics", html.ToString());
    }
}
