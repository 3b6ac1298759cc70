using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Verdicts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Verdicts: per map method, whether its maps are faithful (paired against random, with the intervals) and whether it passed the sanity check.</summary>
public sealed class VerdictsSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Verdicts is not { } verdicts) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder(string.Create(inv, $"<p>Each method's per-sample AUC minus the random ordering's on the same sample, averaged, with its {EstimateText.Level(verdicts.Confidence)} interval. "))
            .Append(string.Create(inv, $"Faithful: deletion below −{verdicts.MinDifference:0.####} and insertion above +{verdicts.MinDifference:0.####}, both beyond their intervals; "))
            .Append("not faithful: either worse than random beyond its interval; otherwise inconclusive. ")
            .Append(string.Create(inv, $"A method explained on a subset (fewer than the dataset's {verdicts.Samples} samples) is reweighted to the dataset's strata "))
            .Append("(target class × correct: each stratum weighs its share of the dataset, not of the subset). ")
            .Append(string.Create(inv, $"Sanity: failed when the maps' mean rank correlation with the original model's stays above {verdicts.SanityMaxSimilarity:0.###} after every layer is re-initialised. "))
            .Append("These thresholds are the job's <code>verdicts</code>.</p>")
            .Append("<table><tr><th>method</th><th>faithfulness</th><th>deletion − random</th><th>insertion − random</th><th>samples</th><th>sanity check</th></tr>");
        foreach (var (method, v) in verdicts.Methods)
            html.Append(string.Create(inv,
                $"<tr><td>{E(method)}</td><td><b>{E(v.Faithfulness)}</b></td><td>{Format(v.Deletion)}</td><td>{Format(v.Insertion)}</td><td>{v.Deletion.Count}{(v.Reweighted ? " (subset, reweighted)" : "")}</td><td>{E(v.Sanity ?? "not run")}</td></tr>"));
        return new ReportText("Verdicts", html.Append("</table>").ToString());
    }

    private static string Format(Interval i) => i.Mean is not { } mean ? "—"
        : i.Low is { } low && i.High is { } high ? string.Create(CultureInfo.InvariantCulture, $"{mean:+0.0000;−0.0000} ({low:+0.0000;−0.0000} to {high:+0.0000;−0.0000})")
        : string.Create(CultureInfo.InvariantCulture, $"{mean:+0.0000;−0.0000}");
}
