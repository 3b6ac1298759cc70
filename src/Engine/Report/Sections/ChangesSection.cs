using System.Globalization;
using System.Text;
using System.Text.Json;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.Output;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// Changes since the previous model: a job with a <c>compare</c> block wrote OUT/compare/comparison.json before its report;
/// this section gives its findings, the drift gate's outcome and its headline table, and links compare.html.
/// </summary>
public sealed class ChangesSection : IReportSection
{
    public async Task<IReadOnlyList<ReportPart>> PartsAsync(ReportContext report, CancellationToken ct)
    {
        var blob = report.Output.Child($"{ComparisonOutput.JobFolder}/{ComparisonOutput.Json}");
        if (!await blob.ExistsAsync(ct)) return [];
        Comparison? c;
        await using (var stream = await blob.OpenReadAsync(ct))
            c = await JsonSerializer.DeserializeAsync<Comparison>(stream, Manifest.Json, ct);
        if (c is null) return [];
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder(string.Create(inv, $"<p>Compared with job {E(c.Baseline.JobId)} ({E(c.Baseline.Job)}, model sha256 {E(c.Baseline.ModelSha256?[..12] ?? "unknown")}")) 
            .Append(c.Baseline.Finished is { } f ? string.Create(inv, $", finished {f:yyyy-MM-dd HH:mm} UTC") : "")
            .Append("). The whole comparison is in <code>").Append(ComparisonOutput.JobFolder).Append('/').Append(ComparisonOutput.Html)
            .Append("</code> beside this report, with comparison.json.</p><ul>");
        foreach (var finding in c.Findings) html.Append("<li>").Append(E(finding)).Append("</li>");
        html.Append("</ul>");
        html.Append(c.Drift.Length == 0 ? "<p><b>Drift gate: passed.</b></p>" : "<p><b>Drift gate: crossed</b> — the run completed and its exit code is 4.</p>");
        if (c.Classes.Length > 0)
        {
            html.Append("<table><caption>The classes whose recall changed most (95 % intervals, paired on the same samples)</caption><thead><tr>")
                .Append("<th scope=\"col\">class</th><th scope=\"col\">n</th><th scope=\"col\">recall before</th><th scope=\"col\">recall now</th><th scope=\"col\">change (points)</th></tr></thead><tbody>");
            foreach (var k in c.Classes.Take(5))
                html.Append(string.Create(inv, $"<tr><th scope=\"row\">{E(k.Name)}</th><td>{k.Support}</td><td>{100 * k.RecallA.Value:0.0} %</td><td>{100 * k.RecallB.Value:0.0} %</td><td>{100 * k.Recall.Value:+0.0;−0.0;0.0} ({100 * k.Recall.Low:+0.0;−0.0;0.0} to {100 * k.Recall.High:+0.0;−0.0;0.0})</td></tr>"));
            html.Append("</tbody></table>");
        }
        return [new ReportText(null, html.ToString())];
    }
}
