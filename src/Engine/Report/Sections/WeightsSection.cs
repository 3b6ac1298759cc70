using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Views;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The weights view: every parameter tensor's size, norm, spread and share near zero, and the first convolution's filters.</summary>
public sealed class WeightsSection : IReportSection
{
    /// <summary>Filters drawn at most.</summary>
    private const int MaxFilters = 32;

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Views?.Weights is not { } weights) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder("<p>Every parameter tensor of the model: its size, norm and spread, and the share of weights near zero ")
            .Append("(|w| under a thousandth of the tensor's largest), which pruning could remove. The first convolution's filters are drawn below.</p>")
            .Append("<table><tr><th>parameter</th><th>shape</th><th>L2 norm</th><th>mean</th><th>std</th><th>near zero</th></tr>");
        foreach (var p in weights.Parameters)
            html.Append(string.Create(inv, $"<tr><td>{E(p.Name)}</td><td>[{string.Join(", ", p.Shape)}]</td><td>{p.Norm:G4}</td><td>{p.Mean:G3}</td><td>{p.Std:G3}</td><td>{p.NearZero:P1}</td></tr>"));
        return new ReportText("Weights", html.Append("</table>").ToString());
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.Views?.Weights is not { FirstConvFilters: { } filterFile } weights) return [];
        // Each filter as a small image (the mean over its input channels), all on one scale.
        var shape = weights.FirstConvShape;
        var filters = await report.OpenAsync(filterFile, ct);
        var shown = Math.Min(shape[0], MaxFilters);
        var values = new List<double[]>();
        for (var f = 0; f < shown; f++)
            values.Add(ReportContext.ChannelMean(await ReportContext.ReadRowAsync(filters, f, ct), shape[1], shape[2] * shape[3]));
        var scale = MapScale.Of(values);
        var tiles = values.Select((v, f) => new Tile(string.Create(CultureInfo.InvariantCulture, $"filter {f}"), v, shape[2], shape[3], scale)).ToArray();
        var strongest = Enumerable.Range(0, shown).MaxBy(f => values[f].Sum(w => w * w));
        var caption = string.Create(CultureInfo.InvariantCulture, $"{weights.FirstConv}: {shown} of its {shape[0]} filters, each the mean over its {shape[1]} input channels; ")
            + $"all on one scale, {scale.Describe()}: the 99th percentile of |weight|.";
        var alt = string.Create(CultureInfo.InvariantCulture, $"{shown} filters of {shape[2]}×{shape[3]} weights on one scale ({scale.Describe()}); the largest by L2 norm: ")
            + MapText.Describe($"filter {strongest}", values[strongest], (1, shape[2], shape[3]), scale);
        var figures = new List<Figure>
        {
            new("weights-filters", caption, () => Heatmaps.Grid(tiles, Math.Min(shown, 8), shape[2], shape[3], new GridBar(scale, "weight (mean over input channels)"), zoom: Math.Max(1, 96 / Math.Max(shape[2], shape[3]))), alt),
        };
        return [new("Weights: the first convolution's filters", figures)];
    }
}
