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
            .Append(Trust(verdicts))
            .Append("These thresholds are the job's <code>verdicts</code>.</p>")
            .Append("<table><tr><th>method</th><th>faithfulness</th><th>deletion − random</th><th>insertion − random</th><th>samples</th><th>sanity check</th>");
        // The trust metrics' verdicts when the job computed them.
        var (robustness, randomLogit, road) = (verdicts.Methods.Values.Any(v => v.Robustness is not null), verdicts.Methods.Values.Any(v => v.RandomLogit is not null),
            verdicts.Methods.Values.Any(v => v.Road is not null));
        html.Append(robustness ? "<th>robustness</th>" : "").Append(randomLogit ? "<th>random-logit</th>" : "").Append(road ? "<th>ROAD</th><th>(LeRF − MoRF)/2</th>" : "").Append("</tr>");
        foreach (var (method, v) in verdicts.Methods)
            html.Append(string.Create(inv,
                $"<tr><td>{E(method)}</td><td><b>{E(v.Faithfulness)}</b></td><td>{Format(v.Deletion)}</td><td>{Format(v.Insertion)}</td><td>{v.Deletion.Count}{(v.Reweighted ? "<span class=\"ci\">subset, reweighted</span>" : "")}</td><td>{E(v.Sanity ?? "not run")}</td>"))
                .Append(robustness ? $"<td>{E(v.Robustness ?? "not run")}</td>" : "").Append(randomLogit ? $"<td>{E(v.RandomLogit ?? "not run")}</td>" : "")
                .Append(road ? $"<td>{E(v.Road ?? "not run")}</td><td>{(v.RoadGain is { } g ? Format(g) : "—")}</td>" : "").Append("</tr>");
        return new ReportText("Verdicts", html.Append("</table>").ToString());
    }

    /// <summary>The trust metrics' rules, when the job computed any.</summary>
    private static string Trust(VerdictsSummary verdicts) => !verdicts.Methods.Values.Any(v => v.Robustness is not null || v.RandomLogit is not null || v.Road is not null) ? ""
        : string.Create(CultureInfo.InvariantCulture, $"Robust: mean max-sensitivity at most {verdicts.MaxSensitivity:0.###}; random-logit passed: mean SSIM to a random other class's map at most {verdicts.RandomLogitMaxSimilarity:0.###}; ")
          + string.Create(CultureInfo.InvariantCulture, $"ROAD faithful: (LeRF − MoRF)/2 above {verdicts.MinDifference:0.####} beyond its interval, not faithful below 0 beyond it (over the trust subset, not reweighted). ");

    /// <summary>The mean, its interval on a line of its own beneath it in smaller type (the table stays within an A4 page's width).</summary>
    private static string Format(Interval i) => i.Mean is not { } mean ? "—"
        : i.Low is { } low && i.High is { } high ? string.Create(CultureInfo.InvariantCulture, $"{mean:+0.0000;−0.0000}<span class=\"ci\">{low:+0.0000;−0.0000} to {high:+0.0000;−0.0000}</span>")
        : string.Create(CultureInfo.InvariantCulture, $"{mean:+0.0000;−0.0000}");
}
