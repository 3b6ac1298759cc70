using System.Globalization;
using System.Net;
using System.Text;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Report;

/// <summary>The report's global views: the weights table and first-layer filters, and per layer how the classes separate.</summary>
public static class ViewPlots
{
    /// <summary>The classes' class-mean activations at one layer, in the plane of their first two principal components.</summary>
    public static byte[] Pca(LayerActivations layer)
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

    /// <summary>The cosine similarity between class means, [k, k] row-major, as a heatmap from −1 to 1.</summary>
    public static byte[] Cosine(float[] cosine, string[] names)
    {
        var k = names.Length;
        var plot = new ScottPlot.Plot();
        var data = new double[k, k];
        for (var a = 0; a < k; a++)
            for (var b = 0; b < k; b++) data[a, b] = cosine[a * k + b];
        var map = plot.Add.Heatmap(data);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        map.ManualRange = new ScottPlot.Range(-1, 1);
        plot.Add.ColorBar(map);
        if (k <= 24)
        {
            plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. Enumerable.Range(0, k).Select(i => (double)(k - 1 - i))], names);
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([.. Enumerable.Range(0, k).Select(i => (double)i)], names);
        }
        return plot.GetImageBytes(460, 400, ScottPlot.ImageFormat.Png);
    }

    public static void Tables(StringBuilder html, ViewsSummary views)
    {
        var inv = CultureInfo.InvariantCulture;
        if (views.Weights is { } weights)
        {
            html.Append("<h2>Weights</h2><p>Every parameter tensor of the model: its size, norm and spread, and the share of weights near zero ")
                .Append("(|w| under a thousandth of the tensor's largest), which pruning could remove. The first convolution's filters are drawn below.</p>")
                .Append("<table><tr><th>parameter</th><th>shape</th><th>L2 norm</th><th>mean</th><th>std</th><th>near zero</th></tr>");
            foreach (var p in weights.Parameters)
                html.Append(string.Create(inv, $"<tr><td>{WebUtility.HtmlEncode(p.Name)}</td><td>[{string.Join(", ", p.Shape)}]</td><td>{p.Norm:G4}</td><td>{p.Mean:G3}</td><td>{p.Std:G3}</td><td>{p.NearZero:P1}</td></tr>"));
            html.Append("</table>");
        }
        if (views.Activations is { } activations)
        {
            html.Append("<h2>Activations: the path of each class through the layers</h2><p>Per layer, the mean activation of each channel ")
                .Append("for each target class. Classes whose mean vectors move apart as the layers go deeper are the ones the network tells apart; ")
                .Append("the plots below place each class by its mean at a layer (first two principal components), and compare classes by cosine ")
                .Append("similarity. Dead channels never fired on any sample; sparsity is the share of activations at or below zero.</p>")
                .Append("<table><tr><th>layer</th><th>channels</th><th>dead channels</th><th>sparsity</th><th>variance in 2 components</th></tr>");
            foreach (var l in activations.Layers)
                html.Append(string.Create(inv, $"<tr><td>{WebUtility.HtmlEncode(l.Layer)}</td><td>{l.Channels}</td><td>{l.DeadFraction:P1}</td><td>{l.Sparsity:P1}</td><td>{l.Explained.Sum():P0}</td></tr>"));
            html.Append("</table>");
        }
    }
}
