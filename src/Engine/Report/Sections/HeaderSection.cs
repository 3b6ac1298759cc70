using System.Globalization;
using ExplainCluster.Engine.Stats;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The top of the report: the job's name, and what ran on what (from the manifest). It has no heading of its own.</summary>
public sealed class HeaderSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var (manifest, inv) = (report.Manifest, CultureInfo.InvariantCulture);
        return new ReportText(null, string.Concat(
            "<h1>", E(manifest.Job), "</h1><p>",
            string.Create(inv, $"{manifest.Samples} samples, model <code>{E(manifest.Model)}</code> (sha256 {E(manifest.ModelSha256 ?? "?")}), "),
            string.Create(inv, $"data <code>{E(manifest.Inputs)}</code>, methods {E(string.Join(", ", manifest.Methods))}, target {E(manifest.Target)}."),
            "</p>"));
    }
}
