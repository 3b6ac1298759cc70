using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Dependence;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// A table job's dependence views (summary.json's <c>dependence</c>): per feature its partial dependence with the ICE curves,
/// its ALE, and every feature's permutation importance with its interval, as inline SVG charts with what each curve means.
/// </summary>
public sealed class DependenceSection : IReportSection
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private static readonly string[] Colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Dependence is not { } d) return null;
        // Two classes: the curves of the second (the one a probability is usually read for); more: every class's.
        var plotted = d.Classes.Length == 2 ? new[] { 1 } : Enumerable.Range(0, d.Classes.Length).ToArray();
        var response = d.Response == "logit" ? "logit" : "probability";
        var html = new StringBuilder(string.Create(Inv, $"""
            <p>How the model's output depends on single features, over all {d.Rows:N0} rows. The values are the model's predicted
            {response} of {E(string.Join(", ", plotted.Select(c => d.Classes[c])))}.</p>
            <ul>
            <li><b>Partial dependence</b> (thick line): the average {response} if every row had the value on the horizontal axis and
            kept its other values. A rising line means the model predicts the class more for larger values, on average.</li>
            <li><b>ICE curves</b> (thin grey lines, {(d.Features.FirstOrDefault()?.IceRows.Length ?? 0):N0} rows drawn at random): the same for one
            row at a time. Curves that cross or run apart show that the feature's effect depends on the row's other features, which the average hides.</li>
            <li><b>ALE</b> (accumulated local effects): the change in {response} due to the feature, measured only on rows whose own value lies
            in each interval of the grid, so it never asks the model about combinations the data does not have (a partial dependence does,
            when features are correlated). Centred: 0 is the average over the rows.</li>
            </ul>
            <p>Numeric grids are quantiles of a random sample of {d.SampleRows:N0} rows (seed {d.SampleSeed}){(d.QuantileError > 0
                ? string.Create(Inv, $"; with {d.Confidence:P0} confidence every point's share of the table lies within ±{d.QuantileError:P1} of its nominal share (Dvoretzky–Kiefer–Wolfowitz)")
                : ", which is the whole table")}. Rows beyond the sample's smallest or largest value count in the first or last ALE interval.</p>
            {(d.Features.FirstOrDefault(f => f.Attributions is { Length: > 0 })?.Attributions is { } methods ? string.Create(Inv, $"""
            <p><b>Attribution against value</b> (SHAP's dependence plot, binned): the sample's rows in each interval of the grid (a categorical
            feature: each level), the mean attribution of the feature by {E(methods[0].Method)} (thick) and one standard deviation either side (thin):
            how much the method credits the feature at each value, and how much that credit varies between rows with similar values
            (other features at work). summary.json's <code>dependence.features[].attributions</code> gives every method's bins with the mean's interval, and
            <code>points</code> each sampled row's value and attributions.</p>
            """) : "")}
            """));
        foreach (var f in d.Features)
        {
            html.Append(string.Create(Inv, $"<h4>{E(f.Feature)}</h4><div class=\"charts\">"));
            var (x, ticks) = f.Categorical ? (f.Grid, f.Levels) : (f.Grid, null);
            var lines = f.Ice.Select(curve => new Series([.. curve.Select(v => (double)v[plotted[0]])], "#999999", 0.7, 0.5)).Take(plotted.Length == 1 ? int.MaxValue : 0)
                .Concat(plotted.Select((c, i) => new Series([.. f.Pdp.Select(v => v[c])], Colours[i % Colours.Length], 2.5, 1)));
            html.Append(Chart($"Partial dependence and ICE: {f.Feature}", x, ticks, [.. lines], f.Feature, response));
            if (f.Ale is { } ale)
                html.Append(Chart($"ALE: {f.Feature}", x, null, [.. plotted.Select((c, i) => new Series([.. ale.Select(v => v[c])], Colours[i % Colours.Length], 2.5, 1))],
                    f.Feature, $"ALE of the {response}"));
            if (f.Attributions?.FirstOrDefault(a => a.N > 0) is { } attribution)
            {
                // The first method's attribution of the feature against its value: each bin's mean (thick) and mean ± one standard deviation (thin).
                var bins = attribution.Bins.Where(b => b.N > 0 && b.Mean.Value is not null).ToArray();
                var at = bins.Select(b => f.Categorical ? b.Lower : (b.Lower + b.Upper) / 2).ToArray();
                var mean = bins.Select(b => b.Mean.Value!.Value).ToArray();
                html.Append(Chart($"{attribution.Method} attribution: {f.Feature}", at, f.Categorical ? [.. bins.Select(b => b.Level!)] : null,
                    [new Series([.. mean.Select((v, i) => v + bins[i].Sd)], "#7f7f7f", 1, 0.8), new Series([.. mean.Select((v, i) => v - bins[i].Sd)], "#7f7f7f", 1, 0.8),
                     new Series(mean, Colours[0], 2.5, 1)], f.Feature, $"{attribution.Method} attribution"));
            }
            html.Append("</div>");
        }
        if (d.Permutation is { } p)
        {
            html.Append(string.Create(Inv, $"""
                <h4>Permutation importance</h4>
                <p>How much accuracy falls ({p.Accuracy:P1} unchanged, over {p.Labelled:N0} labelled rows) when one feature's value in every
                row is replaced by the value of a row drawn at random from the sample, which keeps the feature's distribution but breaks its
                link with the label and the other features; the mean over {p.Repeats} draws with its {d.Confidence:P0} normal interval over the
                draws (narrow with few draws). A drop near 0 means the model does not need the feature to be accurate; it does not mean the
                feature cannot change single decisions.</p>
                """));
            html.Append(Bars([.. p.Features.OrderByDescending(x => x.Drop.Value ?? 0)]));
        }
        return new ReportText("Dependence: partial dependence, ICE, ALE and permutation importance", html.ToString());
    }

    private sealed record Series(double[] Y, string Colour, double Width, double Opacity);

    private const double W = 420, H = 260, Left = 60, Right = 12, Top = 24, Bottom = 44;

    /// <summary>A line chart: every series over x, axes with four ticks (or the levels' names), the title and the axes' labels.</summary>
    private static string Chart(string title, double[] x, string[]? levels, Series[] series, string xLabel, string yLabel)
    {
        var ys = series.SelectMany(s => s.Y).Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        var (x0, x1) = (x.Min(), x.Max() > x.Min() ? x.Max() : x.Min() + 1);
        var (y0, y1) = (ys.Min(), ys.Max() > ys.Min() ? ys.Max() : ys.Min() + 1);
        double Px(double v) => Left + (v - x0) / (x1 - x0) * (W - Left - Right);
        double Py(double v) => H - Bottom - (v - y0) / (y1 - y0) * (H - Top - Bottom);
        var svg = new StringBuilder(string.Create(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{E(title)}\" font-family=\"sans-serif\" font-size=\"10\">"));
        svg.Append(string.Create(Inv, $"<text x=\"{W / 2}\" y=\"14\" text-anchor=\"middle\" font-size=\"12\">{E(title)}</text>"));
        svg.Append(string.Create(Inv, $"<line x1=\"{Left}\" y1=\"{H - Bottom}\" x2=\"{W - Right}\" y2=\"{H - Bottom}\" stroke=\"#333\"/><line x1=\"{Left}\" y1=\"{Top}\" x2=\"{Left}\" y2=\"{H - Bottom}\" stroke=\"#333\"/>"));
        var xTicks = levels is not null ? x.Select((v, i) => (v, levels[i])) : Enumerable.Range(0, 5).Select(i => x0 + i * (x1 - x0) / 4).Select(v => (v, v.ToString("G4", Inv)));
        foreach (var (v, label) in xTicks)
            svg.Append(string.Create(Inv, $"<text x=\"{Px(v):F1}\" y=\"{H - Bottom + 14}\" text-anchor=\"middle\">{E(label)}</text>"));
        for (var i = 0; i < 5; i++)
        {
            var v = y0 + i * (y1 - y0) / 4;
            svg.Append(string.Create(Inv, $"<text x=\"{Left - 4}\" y=\"{Py(v) + 3:F1}\" text-anchor=\"end\">{v.ToString("G3", Inv)}</text><line x1=\"{Left}\" y1=\"{Py(v):F1}\" x2=\"{W - Right}\" y2=\"{Py(v):F1}\" stroke=\"#eee\"/>"));
        }
        svg.Append(string.Create(Inv, $"<text x=\"{(Left + W - Right) / 2}\" y=\"{H - 8}\" text-anchor=\"middle\">{E(xLabel)}</text>"));
        svg.Append(string.Create(Inv, $"<text transform=\"translate(12 {(Top + H - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{E(yLabel)}</text>"));
        foreach (var s in series)
        {
            var points = string.Join(' ', s.Y.Select((y, i) => string.Create(Inv, $"{Px(x[i]):F1},{Py(y):F1}")));
            svg.Append(string.Create(Inv, $"<polyline fill=\"none\" stroke=\"{s.Colour}\" stroke-width=\"{s.Width}\" stroke-opacity=\"{s.Opacity}\" points=\"{points}\"/>"));
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>Horizontal bars of the mean accuracy drop, most important first, each with its interval as a whisker.</summary>
    private static string Bars(PermutationFeature[] features)
    {
        const double rowHeight = 18, labelWidth = 120, width = 520;
        var height = Top + features.Length * rowHeight + 24;
        var values = features.SelectMany(f => new[] { f.Drop.Value ?? 0, f.Drop.Low ?? 0, f.Drop.High ?? 0 }).Append(0).ToArray();
        var (lo, hi) = (Math.Min(0, values.Min()), values.Max() > 0 ? values.Max() : 1);
        double Px(double v) => labelWidth + (v - lo) / (hi - lo) * (width - labelWidth - Right);
        var svg = new StringBuilder(string.Create(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Permutation importance\" font-family=\"sans-serif\" font-size=\"10\">"));
        svg.Append(string.Create(Inv, $"<text x=\"{width / 2}\" y=\"14\" text-anchor=\"middle\" font-size=\"12\">Accuracy drop when the feature is permuted</text>"));
        for (var i = 0; i < features.Length; i++)
        {
            var (f, y) = (features[i], Top + i * rowHeight);
            var v = f.Drop.Value ?? 0;
            svg.Append(string.Create(Inv, $"<text x=\"{labelWidth - 6}\" y=\"{y + 12}\" text-anchor=\"end\">{E(f.Feature)}</text>"));
            svg.Append(string.Create(Inv, $"<rect x=\"{Math.Min(Px(0), Px(v)):F1}\" y=\"{y + 3}\" width=\"{Math.Abs(Px(v) - Px(0)):F1}\" height=\"{rowHeight - 6}\" fill=\"#1f77b4\"><title>{E(f.Feature)}: {v.ToString("P2", Inv)}</title></rect>"));
            if (f.Drop is { Low: { } l, High: { } h })
                svg.Append(string.Create(Inv, $"<line x1=\"{Px(l):F1}\" y1=\"{y + rowHeight / 2}\" x2=\"{Px(h):F1}\" y2=\"{y + rowHeight / 2}\" stroke=\"#000\"/>"));
        }
        var axis = Top + features.Length * rowHeight + 2;
        svg.Append(string.Create(Inv, $"<line x1=\"{Px(0):F1}\" y1=\"{Top}\" x2=\"{Px(0):F1}\" y2=\"{axis}\" stroke=\"#333\"/>"));
        foreach (var v in new[] { lo, (lo + hi) / 2, hi })
            svg.Append(string.Create(Inv, $"<text x=\"{Px(v):F1}\" y=\"{axis + 12}\" text-anchor=\"middle\">{v.ToString("P1", Inv)}</text>"));
        return svg.Append("</svg>").ToString();
    }
}
