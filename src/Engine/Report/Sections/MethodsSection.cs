using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Tabular;
using ExplainCluster.Engine.Verdicts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// The explanations chapter: a table of the methods that ran, then each method on its own — what it shows, how to read it,
/// how many samples it explained, its trust results — followed by its own class-mean maps (<paramref name="classMeans"/>'s
/// figures, by their file names <c>class-mean-METHOD</c>: one grid per method).
/// </summary>
public sealed partial class MethodsSection(IReportSection classMeans) : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var (summary, inv) = (report.Summary, CultureInfo.InvariantCulture);
        var verdicts = summary.Verdicts?.Methods;
        var html = new StringBuilder(summary.FeatureImportance is null
                ? "<p>Each method answers \"which parts of this input made the model give this class?\" in its own way; their maps are per sample (attributions/), averaged per class below. The trust chapter says whether each can be believed.</p>"
                : "<p>Each method answers \"which of this row's features made the model give this class?\" in its own way: one value per feature and row (attributions/METHOD/*.parquet, a column per feature), summarised under feature importance below.</p>")
            .Append($"<table><tr><th class=\"l\">method</th><th>samples explained</th><th>{(summary.FeatureImportance is null ? "map shape" : "values per row")}</th><th>mean |attribution|</th><th>faithfulness</th><th>sanity check</th></tr>");
        foreach (var (name, m) in summary.Methods)
        {
            var verdict = verdicts?.GetValueOrDefault(name);
            html.Append(string.Create(inv, $"<tr><td class=\"l\">{E(name)}</td><td>{m.Samples} of {summary.Samples}</td><td>[{string.Join(", ", m.MapShape)}]</td><td>{m.MeanAbs:G4}</td>"))
                .Append("<td>").Append(E(verdict?.Faithfulness ?? "not evaluated")).Append("</td><td>").Append(E(verdict?.Sanity ?? "not run")).Append("</td></tr>");
        }
        return new ReportText("Methods that ran", html.Append("</table>").ToString());
    }

    public async Task<IReadOnlyList<ReportPart>> PartsAsync(ReportContext report, CancellationToken ct)
    {
        var parts = new List<ReportPart>();
        if (Text(report) is { } overview) parts.Add(overview);
        var maps = (await classMeans.FiguresAsync(report, ct)).Where(g => g.Figures.Count > 0).ToList();
        foreach (var (name, m) in report.Summary.Methods)
        {
            parts.Add(Method(report, name, m));
            var own = maps.Where(g => g.Figures.All(f => ClassMean().Match(f.Name) is { Success: true } match && match.Groups[1].Value == name)).ToList();
            parts.AddRange(own);
            maps.RemoveAll(own.Contains);
        }
        parts.AddRange(maps); // none, unless a figure is named otherwise: shown all the same
        return parts;
    }

    /// <summary>One method: what it shows and how to read it, the samples it explained, and its trust results in a sentence.</summary>
    private static ReportText Method(ReportContext report, string name, MethodSummary m)
    {
        var (inv, reading) = (CultureInfo.InvariantCulture, report.Summary.FeatureImportance is null ? MethodGuide.For(name) : MethodGuide.ForTable(name));
        var html = new StringBuilder("<p><b>What it shows.</b> ").Append(E(reading.Shows)).Append("</p><p><b>How to read it.</b> ").Append(E(reading.Read)).Append("</p><p>")
            .Append(string.Create(inv, $"It explained {m.Samples} of the {report.Summary.Samples} samples"))
            .Append(m.Samples < report.Summary.Samples ? " (its subset: see the limitations)" : "").Append(string.Create(inv, $"; mean |attribution| {m.MeanAbs:G4}. "));
        html.Append(E(Trust(report, name))).Append("</p>");
        return new ReportText(name, html.ToString());
    }

    private static string Trust(ReportContext report, string name)
    {
        if (report.Summary.Verdicts?.Methods.GetValueOrDefault(name) is not { } verdict)
            return report.Summary.FeatureImportance is not null ? "It explained a table: the faithfulness curves and the sanity check are computed for images only (not yet for tables)."
                : !ReportContext.OverPixels(report.Summary.Methods[name]) ? "Its maps are not over pixels: no faithfulness or sanity check applies."
                : report.Summary.Verdicts is null ? "Its faithfulness was not evaluated (the job asked for none)."
                : "It has no faithfulness verdict.";
        var sanity = verdict.Sanity switch
        {
            VerdictsFeature.SanityPassed => "it passed the sanity check (its maps change when the model is randomised)",
            VerdictsFeature.SanityFailed => "it failed the sanity check (its maps barely change when the model is randomised)",
            _ => "the sanity check did not run on it",
        };
        return $"Trust: {verdict.Faithfulness} against a random ordering; {sanity}" + (Findings.Passed(verdict) ? "; it passed its trust checks." : ".");
    }

    [GeneratedRegex(@"^class-mean-(.+)$")]
    private static partial Regex ClassMean();
}
