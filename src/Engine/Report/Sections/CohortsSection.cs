using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Cohorts;
using ExplainCluster.Engine.Stats;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// Cohorts by metadata, for a reader who reads only this: how the cohorts were formed and compared, then per column a
/// sentence naming the cohorts whose accuracy or attributions differ significantly from the rest, and the table.
/// </summary>
public sealed class CohortsSection : IReportSection
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public Task<IReadOnlyList<ReportPart>> PartsAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.Cohorts is not { Columns.Length: > 0 } cohorts) return Task.FromResult<IReadOnlyList<ReportPart>>([]);
        var level = EstimateText.Level(cohorts.Confidence);
        var intro = string.Create(Inv, $"<p>Each cohort is the samples with one value of a metadata column (<code>data.metadata</code>), ")
            + string.Create(Inv, $"compared with the rest of the samples. Accuracy: the share of its labelled samples predicted correctly, with its {level} Wilson interval; ")
            + "its difference from the rest's accuracy in percentage points, with Newcombe's hybrid score interval (method 10, from the two Wilson intervals). "
            + "Calibration over its labelled samples: the mean confidence (the predicted class's probability) to set beside the accuracy, and the expected calibration error (ECE) in the error analysis' 15 bins of confidence. "
            + "Mean |attribution|: per sample the mean |value| of the method's map (of a table's features: each feature's |attribution|), averaged over the cohort's samples "
            + string.Create(Inv, $"that the method explained, with its normal {level} interval; its difference from the rest's with the normal interval of Welch's standard error. ")
            + string.Create(Inv, $"The intervals of the differences are Bonferroni-adjusted for the comparisons in the column's table (per family: the accuracy of each cohort; each cohort's attributions; ")
            + string.Create(Inv, $"each cohort's trust metrics), so those of a family hold together at {level}; a difference is called significant when its adjusted interval excludes 0. A column shows at most its {cohorts.MaxValues} most frequent values, the rest pooled as \"{CohortSummaries.Other}\"; ")
            + string.Create(Inv, $"a column with more than {cohorts.MaxDistinct} distinct values (an identifier) forms no cohorts. Every figure is computed from exact sums, the same however the job was sharded.</p>");
        IReadOnlyList<ReportPart> parts = [new ReportText(null, intro), .. cohorts.Columns.Select(c => new ReportText($"Cohorts by {c.Column}", Column(c, level, cohorts.MaxDistinct)))];
        return Task.FromResult(parts);
    }

    private static string Column(CohortColumn column, string level, int maxDistinct)
    {
        if (column.Distinct is null)
            return $"<p><code>{E(column.Column)}</code> has more than {maxDistinct} distinct values: no cohorts are formed by it.</p>";
        var html = new StringBuilder();
        var rows = column.Cohorts;
        html.Append(string.Create(Inv, $"<p><code>{E(column.Column)}</code>: {column.Distinct} distinct values, {rows.Sum(r => r.N):N0} samples"))
            .Append(column.Pooled > 0 ? string.Create(Inv, $"; the {rows.Length - 1} most frequent shown, {column.Pooled} others pooled as \"{CohortSummaries.Other}\"") : "")
            .Append(". ").Append(E(Finding(column, level))).Append("</p>");
        (string, Func<CohortRow, string>)[] overall =
        [
            ("n", r => r.N.ToString("N0", Inv)),
            ("accuracy", r => r.Accuracy is { } a ? EstimateText.Percent(a) : "–"),
            ("vs rest (points)", r => Points(r.AccuracyDifference)),
            ("mean confidence", r => r.Calibration is { } c ? c.MeanConfidence.ToString("P1", Inv) : "–"),
            ("ECE", r => r.Calibration is { } c ? c.Ece.ToString("0.000", Inv) : "–"),
            .. rows.SelectMany(r => r.Attributions).Where(a => a.Feature is null).Select(a => a.Method).Distinct()
                .Select(m => ($"{E(m)} mean |attribution|", Cell(r => r.Attributions.FirstOrDefault(a => a.Method == m && a.Feature is null) is { } x ? (x.MeanAbs, x.Difference) : null))),
        ];
        Table(html, rows, overall);
        // A table's features: each feature's mean |attribution| per cohort, for the method that explained the most samples (the
        // first of those in job order); a table per method would repeat much the same picture, and the finding names them all.
        var perFeature = rows.SelectMany(r => r.Attributions).Where(a => a.Feature is not null).Select(a => a.Method).Distinct().ToArray();
        if (perFeature.Length > 0)
        {
            var method = perFeature.OrderByDescending(m => rows.Sum(r => r.Attributions.FirstOrDefault(a => a.Method == m && a.Feature is not null)?.MeanAbs.N ?? 0)).First();
            var others = perFeature.Where(m => m != method).ToArray();
            html.Append(string.Create(Inv, $"<p><b>{E(method)}</b> per feature: each feature's mean |attribution| over the cohort's samples, with its {level} interval."))
                .Append(others.Length > 0 ? $" The same for {E(string.Join(", ", others))} is in summary.json (<code>cohorts</code>); the sentence above names their significant differences too.</p>" : "</p>");
            Table(html, rows, [.. rows.SelectMany(r => r.Attributions).Where(a => a.Method == method && a.Feature is not null).Select(a => a.Feature!).Distinct()
                .Select(f => (E(f), Cell(r => r.Attributions.FirstOrDefault(a => a.Method == method && a.Feature == f) is { } x ? (x.MeanAbs, x.Difference) : null)))]);
        }
        if (rows.Any(r => r.Trust.Length > 0))
        {
            html.Append(string.Create(Inv, $"<p>Faithfulness and trust metrics per cohort: each metric's mean over the cohort's samples it evaluated (deletion and insertion AUC where the job ran faithfulness), with its {level} interval.</p>"));
            Table(html, rows, [.. rows.SelectMany(r => r.Trust).Select(t => (t.Method, t.Metric)).Distinct()
                .Select(m => ($"{E(m.Method)} {E(m.Metric.Replace('_', '-'))}", Cell(r => r.Trust.FirstOrDefault(t => t.Method == m.Method && t.Metric == m.Metric) is { } t ? (t.Mean, t.Difference) : null)))]);
        }
        return html.Append("<p>* differs significantly from the rest of the samples (the difference's adjusted interval excludes 0).</p>").ToString();
    }

    /// <summary>A table of the cohorts, a row each, by <paramref name="columns"/>: each a header's HTML and a cell's.</summary>
    private static void Table(StringBuilder html, CohortRow[] rows, (string Header, Func<CohortRow, string> Cell)[] columns)
    {
        html.Append("<table><tr><th scope=\"col\">cohort</th>");
        foreach (var (header, _) in columns) html.Append($"<th scope=\"col\">{header}</th>");
        html.Append("</tr>");
        foreach (var r in rows)
        {
            html.Append($"<tr><td class=\"l\">{E(r.Value)}</td>");
            foreach (var (_, cell) in columns) html.Append($"<td>{cell(r)}</td>");
            html.Append("</tr>");
        }
        html.Append("</table>");
    }

    /// <summary>A cell of an estimate, marked when its difference from the rest is significant; "–" where the cohort has none.</summary>
    private static Func<CohortRow, string> Cell(Func<CohortRow, (Estimate Estimate, CohortDifference? Difference)?> of) => r =>
        of(r) is var (estimate, difference) ? EstimateText.Number(estimate, "G4") + (difference is { Significant: true } ? " *" : "") : "–";

    /// <summary>The sentence a reader sees first: which cohorts differ from the rest, in accuracy and in attributions, and by which test.</summary>
    public static string Finding(CohortColumn column, string level)
    {
        var accuracy = column.Cohorts.Where(r => r.AccuracyDifference is { Significant: true }).Select(r =>
            string.Create(Inv, $"{r.Value} ({100 * r.Accuracy!.Value:F1} %, {Signed(100 * r.AccuracyDifference!.Value)} points against the rest)")).ToArray();
        // Per cohort the methods whose maps differ, then at most three features, the most clearly different first (|difference| / half its interval).
        var attributions = column.Cohorts.Select(r =>
        {
            var differ = r.Attributions.Where(a => a.Difference is { Significant: true }).ToArray();
            var features = differ.Where(a => a.Feature is not null).OrderByDescending(a => Math.Abs(a.Difference!.Value) / (a.Difference.High - a.Difference.Low))
                .Select(a => $"{a.Method} on {a.Feature}").ToArray();
            var named = differ.Where(a => a.Feature is null).Select(a => a.Method).Concat(features.Take(3))
                .Concat(features.Length > 3 ? [$"{features.Length - 3} more features"] : []).ToArray();
            return (r.Value, Named: named);
        }).Where(x => x.Named.Length > 0).Select(x => $"{x.Value} ({string.Join(", ", x.Named)})").ToArray();
        var text = new StringBuilder();
        var (nAccuracy, nAttributions) = (column.Comparisons.Accuracy, column.Comparisons.Attributions);
        text.Append(accuracy.Length > 0 ? $"Accuracy differs significantly from the rest's for {string.Join("; ", accuracy)} (Newcombe's interval of the difference, {level} jointly over {nAccuracy} cohorts, excludes 0). "
            : column.Cohorts.Any(r => r.AccuracyDifference is not null) ? $"No cohort's accuracy differs significantly from the rest's (Newcombe's interval of every difference, {level} jointly over {nAccuracy} cohorts, includes 0). " : "");
        text.Append(attributions.Length > 0 ? $"The mean |attribution| differs significantly from the rest's for {string.Join("; ", attributions)} (Welch's normal interval of the difference, {level} jointly over {nAttributions} comparisons, excludes 0)."
            : $"No cohort's mean |attribution| differs significantly from the rest's (Welch's normal interval of every difference, {level} jointly over {nAttributions} comparisons, includes 0, or a side has fewer than 2 samples).");
        return text.ToString();
    }

    private static string Signed(double v) => v.ToString("+0.0;−0.0;0.0", Inv);

    private static string Points(CohortDifference? d) => d is null ? "–"
        : string.Create(Inv, $"{Signed(100 * d.Value)} ({Signed(100 * d.Low)} to {Signed(100 * d.High)})") + (d.Significant ? " *" : "");
}
