using System.Globalization;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The top of the report, above the contents: the job's name and id, and how to read the pack. It has no heading of its own.</summary>
public sealed class HeaderSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var manifest = report.Manifest;
        return new ReportText(null, string.Concat(
            "<h1>", E(manifest.Job), "</h1><p>",
            string.Create(CultureInfo.InvariantCulture, $"Evidence pack of job <code>{E(manifest.JobId)}</code>: {manifest.Samples} samples explained with {E(string.Join(", ", manifest.Methods))}. "),
            "Every number here comes from manifest.json and summary.json beside this file; evidence.json holds the findings, verdicts and ",
            "provenance in a documented form. The chapters follow a model card: findings, scope and provenance, performance, explanations, ",
            "trust, global views, limitations, and an appendix on the files.</p>"));
    }
}
