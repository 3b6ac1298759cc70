using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Concepts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>TCAV: what the score means, the CAVs' accuracy per concept, and per target class each concept's score over the runs with its t-test.</summary>
public sealed class ConceptsSection : IReportSection
{
    /// <summary>The most classes the table lists (those with the most samples).</summary>
    private const int MaxClasses = 30;

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Concepts is not { } tcav) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder()
            .Append("<p>Testing with Concept Activation Vectors (TCAV, Kim et al. 2018) asks whether a concept that people name with examples ")
            .Append(string.Create(inv, $"(here: {string.Join(", ", tcav.Concepts.Select(c => $"<b>{E(c)}</b>"))}) matters to the model's decision for a class. "))
            .Append(string.Create(inv, $"At layer <code>{E(tcav.Layer)}</code> a linear classifier separates the activations of a concept's examples from those of random examples; "))
            .Append("the direction it finds is the concept's activation vector (CAV). A sample's directional derivative says whether the score of its class would rise ")
            .Append("if its activations moved towards the concept. <b>The TCAV score of a class is the fraction of the class's samples whose score rises</b>: ")
            .Append("1 means the concept pushes every sample of the class towards it, 0 that it pushes every one away, and about 0.5 that it has no consistent effect, ")
            .Append("as a random direction has.</p>")
            .Append(string.Create(inv, $"<p>Each concept's CAV was trained {tcav.Runs} times, each time on {tcav.Examples} examples of the concept drawn at random against {tcav.Examples} "))
            .Append("drawn random examples; the table gives the score's mean ± standard deviation over these runs. As a control, CAVs were trained between two disjoint ")
            .Append("draws of random examples, which no concept separates; a concept's scores are compared with theirs by a two-sided t-test. ")
            .Append(string.Create(inv, $"A score is <b>significant</b> when p &lt; {tcav.CorrectedAlpha:G3} (α = {tcav.Alpha:G3} shared among the {tcav.Concepts.Length} concept(s) of a class, Bonferroni). "))
            .Append("A score that is not significant cannot be told apart from chance and says nothing about the concept, in either direction. ")
            .Append("TCAV shows that the model is sensitive to the concept as these examples define it; other examples of the same idea may give another answer.</p>");

        var significant = tcav.Classes.SelectMany(c => c.Concepts.Where(k => k.Significant).Select(k => (c, k))).ToArray();
        html.Append(significant.Length == 0
            ? "<p><b>No concept is significant for any class.</b></p>"
            : $"<p><b>Significant:</b> {string.Join("; ", significant.Take(20).Select(s => string.Create(inv, $"{E(s.k.Concept)} for class {E(s.c.Name)} (score {s.k.Mean:F2}, p {s.k.P:G2})")))}{(significant.Length > 20 ? string.Create(inv, $"; and {significant.Length - 20} more") : "")}.</p>");

        html.Append("<p>How well each concept's CAVs separate its examples from random ones (mean accuracy on their training examples over the runs; near 0.5 the layer ")
            .Append("does not tell the concept from random examples, and its scores mean little), with each set's examples and the SHA-256 of their values ")
            .Append("(the same hash, the same examples):</p><table><tr><th>concept</th><th>CAV accuracy</th><th>examples</th><th>sha256</th></tr>");
        foreach (var a in tcav.Accuracy)
        {
            var set = tcav.Sets.FirstOrDefault(s => s.Name == a.Concept);
            html.Append(string.Create(inv, $"<tr><td>{(a.Concept == "random" ? "random vs random (control)" : E(a.Concept))}</td><td>{a.Mean:F2}</td>"))
                .Append(set is null ? "<td>–</td><td>–</td>" : string.Create(inv, $"<td>{set.Examples}</td><td><code>{E(set.Sha256[..12])}…</code></td>"))
                .Append("</tr>");
        }
        html.Append("</table>");

        var classes = tcav.Classes.OrderByDescending(c => c.N).ThenBy(c => c.Class).Take(MaxClasses).OrderBy(c => c.Class).ToArray();
        html.Append(string.Create(inv, $"<p>TCAV scores per target class (mean ± sd over {tcav.Runs} runs; p of the t-test; ✔ significant"))
            .Append(classes.Length < tcav.Classes.Length ? string.Create(inv, $"; the {MaxClasses} classes with the most samples") : "")
            .Append("):</p><table><tr><th>class</th><th>samples</th>");
        foreach (var c in tcav.Concepts) html.Append($"<th>{E(c)}</th>");
        html.Append("<th>random (control)</th></tr>");
        foreach (var c in classes)
        {
            html.Append(string.Create(inv, $"<tr><td>{E(c.Name)}</td><td>{c.N}</td>"));
            foreach (var k in c.Concepts)
                html.Append(string.Create(inv, $"<td>{k.Mean:F2} ± {k.Sd:F2}, p {k.P:G2}{(k.Significant ? " ✔" : "")}</td>"));
            html.Append(string.Create(inv, $"<td>{c.Random.Mean:F2} ± {c.Random.Sd:F2}</td></tr>"));
        }
        html.Append("</table>");
        return new ReportText("Concepts (TCAV)", html.ToString());
    }
}
