using System.Globalization;
using System.Text;
using ExplainCluster.Engine.ErrorTree;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// Error cohorts (summary.json's <c>errorTree</c>), for a reader who reads only this: how the tree was grown, the tree drawn
/// as nested boxes shaded by error rate, and its leaves as cohorts in a table sorted by error rate, each with the features
/// the explanations weigh most in it.
/// </summary>
public sealed class ErrorTreeSection : IReportSection
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.ErrorTree is not { } tree) return null;
        var level = EstimateText.Level(tree.Confidence);
        var overall = tree.Samples == 0 ? 0 : (double)tree.Errors / tree.Samples;
        var html = new StringBuilder();
        html.Append(string.Create(Inv, $"<p>Where does the model fail? A decision tree was fitted to tell the misclassified samples ({tree.Errors:N0} of {tree.Samples:N0}, {overall:P2}) "))
            .Append("from the others, using the table's features and metadata columns, as the Responsible AI Toolbox's error analysis does. ")
            .Append(string.Create(Inv, $"It is at most {tree.Depth} levels deep and every leaf keeps at least {tree.MinLeaf} samples; numeric features are cut into at most {tree.Bins} bins of equal counts over the whole table. "))
            .Append("A split is chosen by LightGBM's gain on the errors, the same criterion as the toolbox's (details in summary.json's <code>errorTree.criterion</code>). ")
            .Append("Each leaf is an <i>error cohort</i>: the samples that satisfy its rule. The tree describes where errors concentrate; it does not say why, ")
            .Append("and a cohort found this way should be checked on new data before conclusions are drawn from it. The tree is grown from exact counts, the same however the job was sharded.</p>");
        if (tree.Root is not { } root) return new ReportText("Error cohorts", html.Append($"<p>The tree was not grown: {E(tree.NotGrown ?? "")}.</p>").ToString());
        html.Append("<p>The tree: each box is a group of samples, with the condition that leads to it, its size and its error rate; the darker the red, the higher the error rate.</p>");
        Box(html, root, tree.Leaves.Max(l => l.ErrorRate.Value ?? 0), true);
        html.Append(string.Create(Inv, $"<p>The cohorts, highest error rate first. Error rate with its {level} Wilson interval; share of errors: the part of all misclassified samples that fall in the cohort"))
            .Append(tree.Methods.Length > 0 ? $"; the features with the largest mean |attribution| ({E(tree.Methods[0])}) over the cohort's samples" : "").Append(".</p>");
        html.Append("<table><tr><th scope=\"col\">cohort</th><th scope=\"col\">rule</th><th scope=\"col\">n</th><th scope=\"col\">errors</th>")
            .Append(string.Create(Inv, $"<th scope=\"col\">error rate ({level})</th><th scope=\"col\">share of errors</th>"))
            .Append(tree.Methods.Length > 0 ? "<th scope=\"col\">features weighed most</th>" : "").Append("</tr>");
        foreach (var leaf in tree.Leaves)
        {
            html.Append(string.Create(Inv, $"<tr><td>{leaf.Leaf}</td><td class=\"l\">{E(leaf.Rule)}</td><td>{leaf.N:N0}</td><td>{leaf.Errors:N0}</td>"))
                .Append($"<td>{EstimateText.Percent(leaf.ErrorRate)}</td>").Append(string.Create(Inv, $"<td>{leaf.ErrorCoverage:P1}</td>"));
            if (leaf.Attributions.FirstOrDefault() is { } a)
                html.Append("<td class=\"l\">").Append(E(string.Join(", ", a.MeanAbs.Select((v, j) => (v, j)).OrderByDescending(x => x.v).ThenBy(x => x.j).Take(3)
                    .Select(x => string.Create(Inv, $"{tree.Features[x.j]} {x.v:G3}"))))).Append("</td>");
            html.Append("</tr>");
        }
        html.Append("</table>");
        return new ReportText("Error cohorts", html.ToString());
    }

    /// <summary>A node as a box, shaded by its error rate against the worst leaf's, holding its children's boxes indented beneath it (an outline, so a deep tree still fits a printed page).</summary>
    private static void Box(StringBuilder html, ErrorTreeNode node, double worst, bool root)
    {
        var rate = node.ErrorRate.Value ?? 0;
        var lightness = 97 - (worst > 0 ? 40 * rate / worst : 0);
        html.Append(string.Create(Inv, $"<div style=\"border:1px solid #888;margin:3px 0 3px {(root ? 0 : 18)}px;padding:3px 6px;background:hsl(0,70%,{lightness:F0}%)\">"))
            .Append(root ? "<b>all samples</b>" : $"<b>{E(node.Condition!)}</b>")
            .Append(string.Create(Inv, $"<br>n {node.N:N0}, errors {node.Errors:N0} ({rate:P1})"))
            .Append(node.Leaf is { } leaf ? string.Create(Inv, $"<br>cohort {leaf}") : "");
        if (node.Children.Length > 0)
        {
            foreach (var child in node.Children) Box(html, child, worst, false);
        }
        html.Append("</div>");
    }

    /// <summary>The finding: the cohort with the highest error rate, against the whole table's.</summary>
    public static string Finding(ErrorTreeSummary tree)
    {
        var worst = tree.Leaves[0];
        var overall = tree.Samples == 0 ? 0 : (double)tree.Errors / tree.Samples;
        return worst.Rule == "all samples"
            ? string.Create(Inv, $"The error tree found no group of samples whose error rate differs from the whole table's ({overall:P1}).")
            : string.Create(Inv, $"The error cohort with the highest error rate is \"{worst.Rule}\": {worst.Errors} of {worst.N} samples misclassified ({worst.ErrorRate.Value:P1}")
                + EstimateText.IntervalClause(worst.ErrorRate, EstimateText.Level(tree.Confidence), "F1")
                + string.Create(Inv, $"), against {overall:P1} overall; it holds {worst.ErrorCoverage:P0} of the errors.");
    }
}
