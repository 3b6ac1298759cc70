using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Views;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The embedding view: what its principal components hold, the label vote of each sample's neighbours, and the samples on its first two components.</summary>
public sealed class EmbeddingSection : IReportSection
{
    /// <summary>Samples drawn on the scatter plot at most, from the first shards.</summary>
    private const int MaxPoints = 4000;

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.Views?.Embedding is not { } embedding) return null;
        var (classes, inv) = (report.Summary.Classes, CultureInfo.InvariantCulture);
        var html = new StringBuilder("<p>")
            .Append(string.Create(inv, $"Every sample's features at layer <code>{E(embedding.Layer)}</code>{(embedding.Features is { } f ? $" ({E(f)})" : "")}, projected on their principal components "))
            .Append(string.Create(inv, $"(exact, over all {embedding.Samples} samples; the first {embedding.Dims} explain {embedding.Explained.Sum():P0} of the variance). "))
            .Append("Classes the model keeps apart form separate clouds; a misclassified sample sitting inside another class's cloud is one the ")
            .Append("model sees as that class, and a candidate for a label error. Coordinates per sample: <code>embedding/part-NNNNN.npy</code>.</p>");
        if (embedding.Knn is { } knn)
        {
            html.Append(string.Create(inv, $"<h3>Label vote</h3><p>On {knn.Samples} samples (stratified by class and correctness), each sample's {knn.K} nearest "))
                .Append(string.Create(inv, $"neighbours in the embedding's full feature space vote on its label: they agree with it {knn.MeanAgreement:P1} of the time on the subset, "))
                .Append(knn.Agreement is { } reweighted
                    ? $"<b>{EstimateText.Percent(reweighted)}</b> reweighted to the dataset (each stratum weighs its share of the dataset, not of the subset, which over-represents errors). "
                    : "a figure of the subset, whose strata are not the dataset's. ")
                .Append("The samples they disagree with most, candidates for a label error:</p><table><tr><th>sample</th><th>label</th><th>neighbours say</th><th>agreement</th></tr>");
            foreach (var low in knn.Lowest)
                html.Append(string.Create(inv, $"<tr><td>#{low.Index}</td><td>{E(classes[low.Label])}</td><td>{E(classes[low.NeighboursSay])}</td><td>{low.Agreement:P0}</td></tr>"));
            html.Append("</table>");
        }
        return new ReportText("Embedding", html.ToString());
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.Views?.Embedding is not { Dims: >= 2 } embedding) return [];
        // Samples from the first shards: each at its coordinates, coloured by predicted class, errors crossed.
        var (manifest, classes) = (report.Manifest, report.Summary.Classes);
        var points = new List<(double X, double Y, int Predicted, bool Wrong)>();
        var labelsFile = manifest.Labels is { } labels && !labels.Contains(Redaction.Marker, StringComparison.Ordinal)
            ? await ArrayFile.OpenAsync(report.Locator.Resolve(labels), ct) : null;
        foreach (var shard in manifest.Shards)
        {
            if (points.Count >= MaxPoints) break;
            var coordinates = await report.OpenAsync(OutputLayout.EmbeddingPart(shard.Index), ct);
            var n = (int)Math.Min(coordinates.Header.Count, MaxPoints - points.Count); // fewer than the shard's range when bad images were skipped
            var xy = await coordinates.ReadFloatsAsync(0, n, ct);
            var logits = await (await report.OpenAsync(OutputLayout.LogitsPart(shard.Index), ct)).ReadFloatsAsync(0, n, ct);
            var truth = labelsFile is null ? null : await labelsFile.ReadIntegersAsync(shard.Start, n, ct);
            for (var i = 0; i < n; i++)
            {
                var predicted = Enumerable.Range(0, classes.Length).MaxBy(c => logits[i * classes.Length + c]);
                points.Add((xy[i * embedding.Dims], xy[i * embedding.Dims + 1], predicted, truth is not null && truth[i] != predicted));
            }
        }
        return [new("Embedding: the samples", [new("embedding-scatter",
            $"layer {embedding.Layer}: samples on the first two principal components (colour: predicted class; black cross: misclassified)",
            () => Scatter(embedding, points, classes),
            string.Create(CultureInfo.InvariantCulture, $"Scatter plot of {points.Count} samples in {points.Select(p => p.Predicted).Distinct().Count()} predicted classes on PC1 ({embedding.Explained[0]:P0} of the variance) and PC2 ({embedding.Explained[1]:P0}); {points.Count(p => p.Wrong)} misclassified, crossed."))])];
    }

    /// <summary>Samples on the embedding's first two components, one colour per predicted class, misclassified ones crossed.</summary>
    private static byte[] Scatter(EmbeddingView embedding, IReadOnlyList<(double X, double Y, int Predicted, bool Wrong)> points, string[] classes)
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
}
