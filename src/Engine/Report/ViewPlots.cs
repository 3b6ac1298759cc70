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

    /// <summary>Accuracy (or the target's mean probability without labels) against the number of least important channels zeroed.</summary>
    public static byte[] PruningCurve(PruningView pruning)
    {
        var plot = new ScottPlot.Plot();
        var xs = pruning.Removed.Select(k => (double)k).ToArray();
        var ys = pruning.Accuracy ?? pruning.MeanProbability!;
        plot.Add.Scatter(xs, ys);
        if (pruning.MaxRemovable is { } k)
        {
            var line = plot.Add.VerticalLine(k);
            line.LinePattern = ScottPlot.LinePattern.Dashed;
            line.Color = ScottPlot.Colors.Gray;
        }
        plot.XLabel("least important channels zeroed");
        plot.YLabel(pruning.Accuracy is null ? "mean target probability" : "accuracy");
        return plot.GetImageBytes(560, 400, ScottPlot.ImageFormat.Png);
    }

    /// <summary>Samples on the embedding's first two components, one colour per predicted class, misclassified ones crossed.</summary>
    public static byte[] Embedding(EmbeddingView embedding, IReadOnlyList<(double X, double Y, int Predicted, bool Wrong)> points, string[] classes)
    {
        var plot = new ScottPlot.Plot();
        foreach (var group in points.GroupBy(p => p.Predicted).OrderBy(g => g.Key))
        {
            var markers = plot.Add.Markers(group.Select(p => p.X).ToArray(), group.Select(p => p.Y).ToArray());
            markers.MarkerSize = 4;
            markers.LegendText = classes[group.Key];
        }
        var wrong = points.Where(p => p.Wrong).ToArray();
        if (wrong.Length > 0)
        {
            var crosses = plot.Add.Markers(wrong.Select(p => p.X).ToArray(), wrong.Select(p => p.Y).ToArray(), ScottPlot.MarkerShape.Eks, 6, ScottPlot.Colors.Black);
            crosses.LegendText = "misclassified";
        }
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        var inv = CultureInfo.InvariantCulture;
        plot.XLabel(string.Create(inv, $"PC1 ({embedding.Explained[0]:P0} of the variance)"));
        plot.YLabel(string.Create(inv, $"PC2 ({embedding.Explained[1]:P0})"));
        return plot.GetImageBytes(640, 520, ScottPlot.ImageFormat.Png);
    }

    /// <param name="classes">The class names, for the label vote's table.</param>
    public static void Tables(StringBuilder html, ViewsSummary views, string[] classes)
    {
        var inv = CultureInfo.InvariantCulture;
        if (views.Embedding is { } embedding)
            html.Append("<h2>Embedding</h2><p>")
                .Append(string.Create(inv, $"Every sample's features at layer <code>{WebUtility.HtmlEncode(embedding.Layer)}</code>, projected on their principal components "))
                .Append(string.Create(inv, $"(exact, over all {embedding.Samples} samples; the first {embedding.Dims} explain {embedding.Explained.Sum():P0} of the variance). "))
                .Append("Classes the model keeps apart form separate clouds; a misclassified sample sitting inside another class's cloud is one the ")
                .Append("model sees as that class, and a candidate for a label error. Coordinates per sample: <code>embedding/part-NNNNN.npy</code>.</p>");
        if (views.Embedding?.Knn is { } knn)
        {
            html.Append(string.Create(inv, $"<h3>Label vote</h3><p>On {knn.Samples} samples (stratified by class and correctness), each sample's {knn.K} nearest "))
                .Append(string.Create(inv, $"neighbours in the embedding's full feature space vote on its label: they agree with it {knn.MeanAgreement:P1} of the time on average. "))
                .Append("The samples they disagree with most, candidates for a label error:</p><table><tr><th>sample</th><th>label</th><th>neighbours say</th><th>agreement</th></tr>");
            foreach (var low in knn.Lowest)
                html.Append(string.Create(inv, $"<tr><td>#{low.Index}</td><td>{WebUtility.HtmlEncode(classes[low.Label])}</td><td>{WebUtility.HtmlEncode(classes[low.NeighboursSay])}</td><td>{low.Agreement:P0}</td></tr>"));
            html.Append("</table>");
        }
        if (views.Pruning is { } pruning)
        {
            var measure = pruning.Labelled ? "accuracy" : "target probability";
            html.Append("<h2>Pruning: how much of the layer the decisions need</h2><p>")
                .Append(string.Create(inv, $"Each channel of the layer zeroed alone on {pruning.Samples} samples (stratified by class and correctness), "))
                .Append(string.Create(inv, $"and the drop in {measure} it causes; then the least important channels zeroed together. "))
                .Append(pruning.MaxRemovable is { } k
                    ? string.Create(inv, $"<b>{k} of {pruning.Order.Length}</b> channels can be zeroed for under one point of {measure} lost ")
                      + string.Create(inv, $"(from {(pruning.BaselineAccuracy ?? pruning.BaselineProbability):P2}).")
                    : "")
                .Append("</p><table><tr><th>rank</th><th>channel</th><th>drop when zeroed alone</th></tr>");
            var shown = pruning.Order.Length <= 12 ? pruning.Order.Select((c, r) => (c, r))
                : pruning.Order.Select((c, r) => (c, r)).Take(5).Concat(pruning.Order.Select((c, r) => (c, r)).TakeLast(5));
            foreach (var (channel, rank) in shown)
                html.Append(string.Create(inv, $"<tr><td>{rank + 1}</td><td>{channel}</td><td>{pruning.Drop[channel]:P2}</td></tr>"));
            html.Append("</table>");
        }
        if (views.Maximisation is { } maximisation)
        {
            html.Append("<h2>Activation maximisation</h2><p>For each class, the input the model finds most typical of it: gradient ascent on the ")
                .Append("class logit from seeded noise, kept smooth by jitter, blur and penalties (Olah et al., 2017). Stripes and textures rather ")
                .Append("than objects mean the model keys on local patterns. Pictures below.</p><table><tr><th>class</th><th>logit at the start</th><th>logit at the end</th><th>probability</th></tr>");
            foreach (var c in maximisation.Classes)
                html.Append(string.Create(inv, $"<tr><td>{WebUtility.HtmlEncode(c.Name)}</td><td>{c.StartLogit:F2}</td><td>{c.Logit:F2}</td><td>{c.Probability:P1}</td></tr>"));
            html.Append("</table>");
        }
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
