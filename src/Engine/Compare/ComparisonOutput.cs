using System.Globalization;
using System.Text;
using System.Text.Json;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Compare;

/// <summary>Writes a comparison as comparison.json (docs/compare.md) and compare.html (its findings first, then its tables).</summary>
public static class ComparisonOutput
{
    public const string Json = "comparison.json";
    public const string Html = "compare.html";

    /// <summary>The folder a job's own comparison goes to, under its output.</summary>
    public const string JobFolder = "compare";

    /// <param name="figures">The most-changed samples drawn (<see cref="ChangedSampleFigures"/>): each written as NAME.png and inlined in the page.</param>
    public static async Task WriteAsync(IBlob folder, Comparison comparison, IReadOnlyList<Figure>? figures = null, CancellationToken ct = default)
    {
        var drawn = (figures ?? []).Select(f => (Figure: f, Png: f.Render())).ToArray();
        await folder.Child(Json).WriteAsync(JsonSerializer.SerializeToUtf8Bytes(comparison, Manifest.Json), ct);
        foreach (var (figure, png) in drawn) await folder.Child($"{figure.Name}.png").WriteAsync(png, ct);
        await folder.Child(Html).WriteAsync(Encoding.UTF8.GetBytes(Page(comparison, drawn)), ct);
    }

    public static string Page(Comparison c, IReadOnlyList<(Figure Figure, byte[] Png)>? drawn = null)
    {
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E($"{c.Candidate.Job} compared with {c.Baseline.Job}"))
            .Append(" — ExplainCluster</title><style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}")
            .Append("td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}caption{text-align:left;font-weight:bold}</style></head><body>")
            .Append("<h1>What changed: ").Append(E(c.Baseline.Output)).Append(" → ").Append(E(c.Candidate.Output)).Append("</h1>");
        html.Append("<p>Baseline (A): job ").Append(E(c.Baseline.JobId)).Append(", model sha256 ").Append(E(Short(c.Baseline.ModelSha256)))
            .Append(". Candidate (B): job ").Append(E(c.Candidate.JobId)).Append(", model sha256 ").Append(E(Short(c.Candidate.ModelSha256))).Append(".</p>");
        html.Append("<h2>Findings</h2><ul>");
        foreach (var finding in c.Findings) html.Append("<li>").Append(E(finding)).Append("</li>");
        html.Append("</ul>");

        var p = c.Predictions;
        Table(html, "Accuracy (95 % intervals; the difference is paired when the inputs are the same)", ["", "A", "B", "B − A"],
            [["accuracy", Rate(p.AccuracyA), Rate(p.AccuracyB), Diff(p.Accuracy)], ["n", N(p.AccuracyA.N), N(p.AccuracyB.N), ""]]);
        Table(html, "Per class (by label), largest change of recall first", ["class", "n", "recall A", "recall B", "B − A", "precision A", "precision B"],
            c.Classes.Select(k => new[] { k.Name, N(k.Support), Rate(k.RecallA), Rate(k.RecallB), Diff(k.Recall), Opt(k.PrecisionA), Opt(k.PrecisionB) }));
        if (p.Flips is { } flips)
        {
            var names = c.Classes.OrderBy(k => k.Class).Select(k => k.Name).ToArray();
            Table(html, "Flips: rows are A's prediction, columns B's", ["A \\ B", .. names.Length == flips.Length ? names : flips.Select((_, i) => i.ToString(CultureInfo.InvariantCulture))],
                flips.Select((row, i) => new[] { names.Length == flips.Length ? names[i] : i.ToString(CultureInfo.InvariantCulture) }.Concat(row.Select(N)).ToArray()));
        }
        if (c.Methods.Length > 0)
        {
            Table(html, "Explanations: agreement of A's and B's maps per sample (|map|)", ["method", "samples", "median ρ", "mean ρ (95 %)", "10th pct ρ", "median top-10 % IoU", "nDCG"],
                c.Methods.Select(m => new[] { m.Method, N(m.Samples), D(m.Spearman.Median), $"{D(m.Spearman.Mean)} ({D(m.Spearman.Low)}–{D(m.Spearman.High)})", D(m.Spearman.P10), D(m.TopOverlap.Median), D(m.Ndcg) }));
            foreach (var m in c.Methods)
            {
                Table(html, $"{m.Method}: the samples whose maps agree least", ["sample", "label", "prediction A", "prediction B", "ρ", "top-10 % IoU"],
                    m.MostChanged.Select(s => new[] { N(s.Index), s.Label?.ToString(CultureInfo.InvariantCulture) ?? "", N(s.PredictionA), N(s.PredictionB), D(s.Spearman), D(s.TopOverlap) }));
                if (drawn?.Where(d => d.Figure.Name == $"changed-{m.Method}").ToArray() is { Length: > 0 } mine)
                    Figures(html, new FigureGroup("", [.. mine.Select(d => d.Figure)]), [.. mine.Select(d => d.Png)]);
            }
        }
        if (c.Trust.Length > 0)
            Table(html, "Trust: faithfulness AUCs (B − A, 95 % intervals) and verdicts in A → B", ["method", "deletion AUC B − A", "insertion AUC B − A", "paired", "faithfulness", "sanity"],
                c.Trust.Select(t => new[]
                {
                    t.Method, t.Faithfulness is { } f ? Auc(f.Deletion) : "—", t.Faithfulness is { } g ? Auc(g.Insertion) : "—",
                    t.Faithfulness is { } h ? (h.Paired ? $"yes, n = {N(h.Deletion.N)}" : "no") : "—",
                    Change(t.FaithfulnessA, t.FaithfulnessB), Change(t.SanityA?.Verdict, t.SanityB?.Verdict),
                }));
        if (c.Representation is { LinearCka: { } cka } r)
            Table(html, "Representation: linear CKA at the embedding layer", ["", "A", "B"],
                [["layer", r.LayerA ?? "", r.LayerB ?? ""], ["features", N(r.FeaturesA), N(r.FeaturesB)], ["linear CKA", D(cka), $"over {N(r.Samples)} samples"]]);
        if (c.Activations is { Length: > 0 } layers)
            Table(html, "Activations: how far each class's mean channel activations moved, per layer both models share (‖μB − μA‖ / ‖μA‖)",
                ["layer", "channels", "largest change", "class", "cosine", "mean change over classes"],
                layers.Select(l => l.Classes.Where(k => !double.IsNaN(k.RelativeChange)).ToArray() is { Length: > 0 } ks
                    ? new[] { l.Layer, N(l.Channels), D(ks[0].RelativeChange), ks[0].Name, D(ks[0].Cosine), D(ks.Average(k => k.RelativeChange)) }
                    : [l.Layer, N(l.Channels), "—", "", "", ""]));
        if (c.LabelErrors is { } le)
            Table(html, $"Label-error candidates in both runs: {le.Shared} of A's {le.CountA} and B's {le.CountB} largest param-grad norms (IoU {D(le.Overlap)})",
                ["sample", "label", "prediction A", "prediction B", "norm A", "norm B", "rank A", "rank B"],
                le.Persisting.Select(p => new[] { N(p.Index), p.LabelName ?? "", N(p.PredictionA), N(p.PredictionB), D(p.NormA), D(p.NormB), N(p.RankA), N(p.RankB) }));
        return html.Append("</body></html>").ToString();
    }

    private static void Table(StringBuilder html, string caption, IEnumerable<string> header, IEnumerable<string[]> rows)
    {
        html.Append("<table><caption>").Append(E(caption)).Append("</caption><thead><tr>");
        foreach (var h in header) html.Append("<th scope=\"col\">").Append(E(h)).Append("</th>");
        html.Append("</tr></thead><tbody>");
        foreach (var row in rows)
        {
            html.Append("<tr><th scope=\"row\">").Append(E(row[0])).Append("</th>");
            foreach (var cell in row.Skip(1)) html.Append("<td>").Append(E(cell)).Append("</td>");
            html.Append("</tr>");
        }
        html.Append("</tbody></table>");
    }

    private static string Short(string? sha) => sha is { Length: >= 12 } s ? s[..12] : "unknown";

    private static string Rate(Rate r) => double.IsNaN(r.Value) ? "—" : $"{Pct(r.Value)} ({Pct(r.Low)}–{Pct(r.High)})";

    private static string Diff(Difference d) => double.IsNaN(d.Value) ? "—" : $"{Signed(d.Value)} ({Signed(d.Low)} to {Signed(d.High)})";

    private static string Pct(double v) => (100 * v).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    private static string Signed(double v) => (v >= 0 ? "+" : "−") + (100 * Math.Abs(v)).ToString("0.0", CultureInfo.InvariantCulture);

    private static string Opt(double? v) => v is { } x ? Pct(x) : "—";

    private static string Auc(Difference d) => double.IsNaN(d.Value) ? "—" : $"{D(d.Value)} ({D(d.Low)} to {D(d.High)})";

    private static string Change(string? a, string? b) => a is null && b is null ? "—" : a == b ? $"{a} (unchanged)" : $"{a ?? "—"} → {b ?? "—"}";

    private static string D(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    private static string N(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string N(int v) => v.ToString(CultureInfo.InvariantCulture);
}
