using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Views;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The activations view: per layer how the classes separate (dead channels, sparsity, the class means' principal components and cosine similarities).</summary>
public sealed class ActivationsSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Views?.Activations is not { } activations) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder("<p>Per layer, the mean activation of each channel ")
            .Append("for each target class. Classes whose mean vectors move apart as the layers go deeper are the ones the network tells apart; ")
            .Append("the plots below place each class by its mean at a layer (first two principal components), and compare classes by cosine ")
            .Append("similarity. Dead channels never fired on any sample; sparsity is the share of activations at or below zero.</p>")
            .Append("<table><tr><th>layer</th><th>channels</th><th>dead channels</th><th>sparsity</th><th>variance in 2 components</th></tr>");
        foreach (var l in activations.Layers)
            html.Append(string.Create(inv, $"<tr><td>{E(l.Layer)}</td><td>{l.Channels}</td><td>{l.DeadFraction:P1}</td><td>{l.Sparsity:P1}</td><td>{l.Explained.Sum():P0}</td></tr>"));
        return new ReportText("Activations: the path of each class through the layers", html.Append("</table>").ToString());
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.Views?.Activations is not { } activations) return [];
        // The classes separating as they go deeper: every layer's PCA, and the last layer's cosine similarities.
        var figures = activations.Layers
            .Select(layer => new Figure($"activations-pca-{layer.Layer}", $"layer {layer.Layer}: class means, first two principal components", () => Pca(layer),
                string.Create(CultureInfo.InvariantCulture, $"{layer.Pca.Length} class means at layer {layer.Layer} on two principal components holding {layer.Explained.Sum():P0} of the variance.")))
            .ToList();
        var last = activations.Layers[^1];
        var cosineFile = await report.OpenAsync(last.Cosine, ct);
        var cosine = await cosineFile.ReadFloatsAsync(0, (int)cosineFile.Header.Count, ct);
        var names = last.Pca.Select(p => p.Name).ToArray();
        figures.Add(new($"activations-cosine-{last.Layer}", $"layer {last.Layer}: cosine similarity between class means", () => Cosine(cosine, names), CosineText(cosine, names, last.Layer)));
        return [new("Activations: class means by layer", figures)];
    }

    /// <summary>The matrix in numbers: its size and the most similar pair of different classes.</summary>
    private static string CosineText(float[] cosine, string[] names, string layer)
    {
        var k = names.Length;
        var pair = Enumerable.Range(0, k * k).Where(i => i / k < i % k).DefaultIfEmpty(-1).MaxBy(i => i < 0 ? float.MinValue : cosine[i]);
        return string.Create(CultureInfo.InvariantCulture, $"{k}×{k} cosine similarities between class means at layer {layer}, on a diverging scale from −1 (blue) through 0 (grey) to 1 (red)")
            + (pair < 0 ? "." : string.Create(CultureInfo.InvariantCulture, $"; most similar: {names[pair / k]} and {names[pair % k]}, {cosine[pair]:F3}."));
    }

    /// <summary>The classes' class-mean activations at one layer, in the plane of their first two principal components.</summary>
    private static byte[] Pca(LayerActivations layer)
    {
        var plot = new ScottPlot.Plot();
        foreach (var point in layer.Pca)
        {
            var marker = plot.Add.Marker(point.Coordinates[0], point.Coordinates.Length > 1 ? point.Coordinates[1] : 0);
            marker.MarkerSize = 8;
            var label = plot.Add.Text(point.Name, point.Coordinates[0], point.Coordinates.Length > 1 ? point.Coordinates[1] : 0);
            label.LabelFontSize = 11;
        }
        var inv = CultureInfo.InvariantCulture;
        plot.XLabel(string.Create(inv, $"PC1 ({layer.Explained[0]:P0} of the variance)"));
        plot.YLabel(string.Create(inv, $"PC2 ({(layer.Explained.Length > 1 ? layer.Explained[1] : 0):P0})"));
        return plot.GetImageBytes(420, 360, ScottPlot.ImageFormat.Png);
    }

    /// <summary>The cosine similarity between class means, [k, k] row-major, as a heatmap from −1 to 1 on RdBu.</summary>
    private static byte[] Cosine(float[] cosine, string[] names)
    {
        var k = names.Length;
        var plot = new ScottPlot.Plot();
        var data = new double[k, k];
        for (var a = 0; a < k; a++)
            for (var b = 0; b < k; b++) data[a, b] = cosine[a * k + b];
        var map = plot.Add.Heatmap(data);
        map.Colormap = new PlotColormap(Colormap.RdBu); // signed: −1 blue, 0 grey, +1 red
        map.ManualRange = new ScottPlot.Range(-1, 1);
        plot.Add.ColorBar(map);
        if (k <= ReportContext.MaxClasses)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. Enumerable.Range(0, k).Select(i => (double)(k - 1 - i))], names);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. Enumerable.Range(0, k).Select(i => (double)i)], names);
        }
        return plot.GetImageBytes(460, 400, ScottPlot.ImageFormat.Png);
    }
}
