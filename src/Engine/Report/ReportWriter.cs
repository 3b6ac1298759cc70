using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// Renders OUT/report.html (self-contained: plots inlined) and OUT/plots/*.png from the written
/// outputs alone, so a report can be made again at any time from manifest.json and summary.json.
/// </summary>
public sealed class ReportWriter(BlobLocator locator)
{
    private const int TopSamples = 8;

    /// <summary>Class-mean maps drawn per method, and class names written along an axis, at most.</summary>
    private const int MaxClassMaps = 24;

    /// <param name="inputs">Where the job's inputs are, when known: manifest.json names them with any SAS token
    /// redacted, so a report made again from the outputs alone cannot read such inputs and leaves their images out.</param>
    public async Task WriteAsync(string outputLocation, CancellationToken ct = default, string? inputs = null)
    {
        var output = locator.Resolve(outputLocation);
        var manifest = await ReadJsonAsync<Manifest>(output.Child(OutputLayout.Manifest), ct);
        var summary = await ReadJsonAsync<Summary>(output.Child(OutputLayout.Summary), ct);
        // Everything to draw is gathered first, then rendered in parallel: the plots are independent.
        var pending = new List<(string Section, string Caption, string Name, Func<byte[]> Render)>();

        if (summary.ErrorAnalysis is { } errors)
        {
            var classes = summary.Classes.Length;
            var confusion = await (await ArrayFile.OpenAsync(output.Child(errors.Confusion), ct)).ReadIntegersAsync(0, classes, ct);
            pending.Add(("Error analysis: plots", "Confusion matrix (rows: label, columns: prediction)", "confusion-matrix", () => Confusion(confusion, summary.Classes)));
            pending.Add(("Error analysis: plots", $"Reliability diagram (ECE {errors.ExpectedCalibrationError:F4}, 15 bins)", "reliability", () => Reliability(errors)));
            pending.Add(("Error analysis: plots", "Per-class accuracy (recall)", "per-class-accuracy", () => PerClassAccuracy(errors)));
        }

        var input = summary.Inputs;
        var (height, width) = (input.Shape[^2], input.Shape[^1]);
        var channels = input.Shape.Length == 3 ? input.Shape[0] : 1;
        var inputMeans = await ArrayFile.OpenAsync(output.Child(input.ClassMeans), ct);
        var inputRows = input.PerClass.ToDictionary(c => c.Class, c => c.Row);
        foreach (var (method, stats) in summary.Methods)
        {
            if (stats.ClassMeans is null || !OverPixels(stats)) continue; // its subset took no sample, or its maps are not images
            var (mh, mw) = (stats.MapShape[^2], stats.MapShape[^1]);
            var mapChannels = stats.MapShape.Length == 3 ? stats.MapShape[0] : 1;
            var means = await ArrayFile.OpenAsync(output.Child(stats.ClassMeans), ct);
            var shown = ClassesShown(stats.PerClass);
            var section = shown.Length == stats.PerClass.Length
                ? $"Class-mean {method}"
                : $"Class-mean {method}: the {shown.Length} classes with the most samples, of {stats.PerClass.Length}";
            foreach (var c in shown)
            {
                var baseImage = ChannelMean(await ReadRowAsync(inputMeans, inputRows[c.Class], ct), channels, height * width);
                var map = ChannelMean(await ReadRowAsync(means, c.Row, ct), mapChannels, mh * mw);
                pending.Add((section, $"{c.Name} (n={c.Count})", $"class-mean-{method}-{c.Class}",
                    () => Heatmaps.Overlay(baseImage, height, width, map, mh, mw)));
            }
        }

        inputs ??= manifest.Inputs.Contains(Redaction.Marker, StringComparison.Ordinal) ? null : manifest.Inputs;
        var inputFile = inputs is null ? null : await ArrayFile.OpenAsync(locator.Resolve(inputs), ct);

        // A sample drawn as its input, then each pixel method's map over it (where the method explained it).
        async Task AddSampleAsync(string section, string name, string caption, long index, int shard, int shardRow)
        {
            var image = ChannelMean(Array.ConvertAll(await inputFile!.ReadFloatsAsync(index, 1, ct), v => (double)v), channels, height * width);
            pending.Add((section, caption + " — input", $"{name}-{index}-input", () => Heatmaps.Grey(image, height, width)));
            foreach (var (method, stats) in summary.Methods)
            {
                if (!OverPixels(stats) || await MapRowAsync(output, method, stats, index, shard, shardRow, ct) is not { } row) continue; // outside the method's subset
                var (mh, mw) = (stats.MapShape[^2], stats.MapShape[^1]);
                var mapChannels = stats.MapShape.Length == 3 ? stats.MapShape[0] : 1;
                var part = await ArrayFile.OpenAsync(output.Child(OutputLayout.AttributionPart(method, shard)), ct);
                var map = ChannelMean(await ReadRowAsync(part, row, ct), mapChannels, mh * mw);
                pending.Add((section, caption + $" — {method}", $"{name}-{index}-{method}", () => Heatmaps.Overlay(image, height, width, map, mh, mw)));
            }
        }

        if (summary.ErrorAnalysis is { } top && inputFile is not null)
            foreach (var entry in top.HighestLoss.Take(TopSamples))
                await AddSampleAsync("Highest-loss samples", "top-loss",
                    $"#{entry.Index}: label {summary.Classes[entry.Label]}, predicted {summary.Classes[entry.Prediction]} ({entry.Confidence:P0}), loss {entry.Loss:F2}",
                    entry.Index, entry.Shard, entry.Row);

        if (summary.ParamGrads is { } paramGrads)
        {
            pending.Add(("Per-sample parameter gradients: plots", "Whole-gradient norm, correct and misclassified samples", "param-grads-histogram",
                () => ParamGradPlots.Histogram(paramGrads)));
            pending.Add(("Per-sample parameter gradients: plots", "Mean gradient norm per layer", "param-grads-layers", () => ParamGradPlots.Layers(paramGrads)));
            if (inputFile is not null)
                foreach (var entry in paramGrads.Largest.Take(TopSamples))
                    await AddSampleAsync("Largest parameter gradients (candidate label errors)", "param-grads-largest",
                        $"#{entry.Index}: label {(entry.Label < 0 ? "none" : summary.Classes[entry.Label])}, predicted {summary.Classes[entry.Prediction]}, gradient norm {entry.Norm:G3}",
                        entry.Index, entry.Shard, entry.Row);
        }

        if (summary.Faithfulness is { } faithfulness)
        {
            pending.Add(("Faithfulness curves", "Deletion curves (mean target probability)", "faithfulness-deletion", () => FaithfulnessPlots.Curves(faithfulness, deletion: true)));
            pending.Add(("Faithfulness curves", "Insertion curves (mean target probability)", "faithfulness-insertion", () => FaithfulnessPlots.Curves(faithfulness, deletion: false)));
        }

        if (summary.Sanity is { } sanity)
        {
            const string section = "Sanity check: curves";
            pending.Add((section, "Rank correlation with the original maps as layers are re-initialised (dashed: the threshold)", "sanity-spearman",
                () => SanityPlots.Curves(sanity, spearman: true)));
            pending.Add((section, "SSIM with the original maps", "sanity-ssim", () => SanityPlots.Curves(sanity, spearman: false)));
            if (sanity.Cascade is { } file)
            {
                // The paper's figure: one sample's map of each method after each step of the cascade.
                var cascade = await ArrayFile.OpenAsync(output.Child(file), ct);
                var (steps, mh, mw) = ((int)cascade.Header.Shape[1], (int)cascade.Header.Shape[2], (int)cascade.Header.Shape[3]);
                var methodNames = sanity.Methods.Keys.ToArray();
                var all = Array.ConvertAll(await cascade.ReadFloatsAsync(0, methodNames.Length, ct), v => (double)v);
                for (var k = 0; k < methodNames.Length; k++)
                    for (var step = 0; step < steps; step++)
                    {
                        var scores = all.AsSpan((k * steps + step) * mh * mw, mh * mw).ToArray();
                        var caption = step == 0 ? $"#{sanity.ExampleIndex} {methodNames[k]}: original model" : $"{methodNames[k]}: re-initialised down to {sanity.Layers[step - 1]}";
                        pending.Add(("Sanity check: one sample along the cascade", caption, $"sanity-cascade-{methodNames[k]}-{step}",
                            () => Heatmaps.Overlay(null, mh, mw, scores, mh, mw)));
                    }
            }
        }

        if (summary.Views is { } views)
        {
            if (views.Weights is { FirstConvFilters: { } filterFile } weights)
            {
                // Each filter as a small image (the mean over its input channels), at most 32.
                var shape = weights.FirstConvShape;
                var filters = await ArrayFile.OpenAsync(output.Child(filterFile), ct);
                for (var f = 0; f < Math.Min(shape[0], 32); f++)
                {
                    var filter = ChannelMean(await ReadRowAsync(filters, f, ct), shape[1], shape[2] * shape[3]);
                    pending.Add(("Weights: the first convolution's filters", $"{weights.FirstConv} filter {f}", $"weights-filter-{f}",
                        () => Heatmaps.Overlay(null, shape[2], shape[3], filter, shape[2], shape[3], zoom: 12)));
                }
            }
            if (views.Pruning is { Removed.Length: > 0 } pruning)
                pending.Add(("Pruning: the curve", "The least important channels zeroed together (dashed: the most that cost under one point)", "pruning-curve",
                    () => ViewPlots.PruningCurve(pruning)));
            if (views.Maximisation is { } maximisation)
            {
                var shape = maximisation.Shape;
                var (inputChannels, pixels) = (shape.Length == 3 ? shape[0] : 1, shape[^2] * shape[^1]);
                foreach (var (file, captions, section) in new[]
                {
                    (maximisation.ClassInputs, maximisation.Classes.Select(c => $"{c.Name}: logit {c.Logit:F1}, p = {c.Probability:P0}").ToArray(), "Activation maximisation: classes"),
                    (maximisation.ChannelInputs, maximisation.Channels.Select(c => $"layer {c.Layer} channel {c.Channel}: mean activation {c.Activation:F2}").ToArray(), "Activation maximisation: Grad-CAM channels"),
                })
                {
                    if (file is null || shape.Length < 2) continue;
                    var maximised = await ArrayFile.OpenAsync(output.Child(file), ct);
                    for (var i = 0; i < captions.Length; i++)
                    {
                        var image = ChannelMean(await ReadRowAsync(maximised, i, ct), inputChannels, pixels);
                        pending.Add((section, captions[i], $"{(section.EndsWith("classes", StringComparison.Ordinal) ? "maximisation-class" : "maximisation-channel")}-{i}",
                            () => Heatmaps.Grey(image, shape[^2], shape[^1])));
                    }
                }
            }
            if (views.Embedding is { Dims: >= 2 } embedding)
            {
                // Up to 4000 samples from the first shards: each at its coordinates, coloured by predicted class, errors crossed.
                var points = new List<(double X, double Y, int Predicted, bool Wrong)>();
                var labelsFile = manifest.Labels is { } labels && !labels.Contains(Redaction.Marker, StringComparison.Ordinal)
                    ? await ArrayFile.OpenAsync(locator.Resolve(labels), ct) : null;
                foreach (var shard in manifest.Shards)
                {
                    if (points.Count >= 4000) break;
                    var coordinates = await ArrayFile.OpenAsync(output.Child(OutputLayout.EmbeddingPart(shard.Index)), ct);
                    var n = (int)Math.Min(shard.Count, 4000 - points.Count);
                    var xy = await coordinates.ReadFloatsAsync(0, n, ct);
                    var logits = await (await ArrayFile.OpenAsync(output.Child(OutputLayout.LogitsPart(shard.Index)), ct)).ReadFloatsAsync(0, n, ct);
                    var truth = labelsFile is null ? null : await labelsFile.ReadIntegersAsync(shard.Start, n, ct);
                    var classes = summary.Classes.Length;
                    for (var i = 0; i < n; i++)
                    {
                        var predicted = Enumerable.Range(0, classes).MaxBy(c => logits[i * classes + c]);
                        points.Add((xy[i * embedding.Dims], xy[i * embedding.Dims + 1], predicted, truth is not null && truth[i] != predicted));
                    }
                }
                pending.Add(("Embedding: the samples", $"layer {embedding.Layer}: samples on the first two principal components (colour: predicted class; black cross: misclassified)",
                    "embedding-scatter", () => ViewPlots.Embedding(embedding, points, summary.Classes)));
            }
            if (views.Activations is { } activations)
            {
                // The classes separating as they go deeper: every layer's PCA, and the last layer's cosine similarities.
                foreach (var layer in activations.Layers)
                    pending.Add(("Activations: class means by layer", $"layer {layer.Layer}: class means, first two principal components", $"activations-pca-{layer.Layer}",
                        () => ViewPlots.Pca(layer)));
                var last = activations.Layers[^1];
                var cosineFile = await ArrayFile.OpenAsync(output.Child(last.Cosine), ct);
                var cosine = await cosineFile.ReadFloatsAsync(0, (int)cosineFile.Header.Count, ct);
                var names = last.Pca.Select(p => p.Name).ToArray();
                pending.Add(("Activations: class means by layer", $"layer {last.Layer}: cosine similarity between class means", $"activations-cosine-{last.Layer}",
                    () => ViewPlots.Cosine(cosine, names)));
            }
        }

        var pngs = await Task.WhenAll(pending.Select(p => Task.Run(p.Render, ct)));
        var plots = pending.Select((p, i) => (p.Section, p.Caption, p.Name, Png: pngs[i])).ToList();
        await Task.WhenAll(plots.Select(p => output.Child(OutputLayout.Plot(p.Name)).WriteAsync(p.Png, ct)));
        await output.Child(OutputLayout.Report).WriteAsync(Encoding.UTF8.GetBytes(Html(manifest, summary, plots)), ct);
    }

    private static async Task<T> ReadJsonAsync<T>(IBlob blob, CancellationToken ct)
    {
        if (!await blob.ExistsAsync(ct)) throw new ExplainException($"{blob.Location} does not exist; is this a job's output?");
        await using var stream = await blob.OpenReadAsync(ct);
        return await JsonSerializer.DeserializeAsync<T>(stream, Manifest.Json, ct)
            ?? throw new ExplainException($"{blob.Location} is empty");
    }

    /// <summary>
    /// The row of a sample's map in its shard's part: its row in the shard, or for a method with a subset its
    /// position in the part's index file; null when the method did not explain the sample.
    /// </summary>
    private static async Task<int?> MapRowAsync(IBlob output, string method, MethodSummary stats, long sample, int shard, int shardRow, CancellationToken ct)
    {
        if (stats.ClassMeans is null) return null;
        var index = output.Child(OutputLayout.AttributionIndex(method, shard));
        if (!await index.ExistsAsync(ct)) return shardRow;
        var file = await ArrayFile.OpenAsync(index, ct);
        var row = Array.IndexOf(await file.ReadIntegersAsync(0, (int)file.Header.Count, ct), sample);
        return row < 0 ? null : row;
    }

    /// <summary>Whether a method's maps are images to draw ([h, w] or [c, h, w]); param-grads' per-layer norms are not.</summary>
    private static bool OverPixels(MethodSummary stats) => stats.MapShape.Length >= 2;

    private static async Task<double[]> ReadRowAsync(ArrayFile file, int row, CancellationToken ct) =>
        Array.ConvertAll(await file.ReadFloatsAsync(row, 1, ct), v => (double)v);

    /// <summary>
    /// The classes whose mean maps the report draws: all of them up to <see cref="MaxClassMaps"/>, else those
    /// with the most samples (ties to the lower class), in class order. The files hold every class.
    /// </summary>
    private static ClassRow[] ClassesShown(ClassRow[] rows) => rows.Length <= MaxClassMaps ? rows
        : [.. rows.OrderByDescending(c => c.Count).ThenBy(c => c.Class).Take(MaxClassMaps).OrderBy(c => c.Class)];

    /// <summary>Axes name every class up to this many; beyond it the names would overlap.</summary>
    private static bool NameClasses(int classes) => classes <= MaxClassMaps;

    private static double[] ChannelMean(double[] values, int channels, int plane)
    {
        if (channels == 1) return values;
        var mean = new double[plane];
        for (var c = 0; c < channels; c++)
            for (var i = 0; i < plane; i++) mean[i] += values[c * plane + i] / channels;
        return mean;
    }

    private static byte[] Confusion(long[] confusion, string[] classes)
    {
        var n = classes.Length;
        var data = new double[n, n];
        for (var r = 0; r < n; r++)
            for (var c = 0; c < n; c++) data[r, c] = confusion[r * n + c];
        var plot = new ScottPlot.Plot();
        var heatmap = plot.Add.Heatmap(data);
        heatmap.Colormap = new ScottPlot.Colormaps.Viridis();
        plot.Add.ColorBar(heatmap);
        if (NameClasses(n))
        {
            plot.Axes.Left.TickGenerator = Ticks(classes, reversed: true);
            plot.Axes.Bottom.TickGenerator = Ticks(classes, reversed: false);
            RotateBottomLabels(plot);
        }
        plot.YLabel("label");
        plot.XLabel("prediction");
        return plot.GetImageBytes(640, 560, ScottPlot.ImageFormat.Png);
    }

    private static ScottPlot.TickGenerators.NumericManual Ticks(string[] names, bool reversed)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        for (var i = 0; i < names.Length; i++) ticks.AddMajor(reversed ? names.Length - 1 - i : i, names[i]);
        return ticks;
    }

    private static void RotateBottomLabels(ScottPlot.Plot plot)
    {
        plot.Axes.Bottom.TickLabelStyle.Rotation = -45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = ScottPlot.Alignment.MiddleRight;
        plot.Axes.Bottom.MinimumSize = 110;
    }

    private static byte[] Reliability(ErrorAnalysis errors)
    {
        var plot = new ScottPlot.Plot();
        var bars = errors.Reliability.Select(b => new ScottPlot.Bar
        {
            Position = (b.Lower + b.Upper) / 2,
            Value = b.Accuracy,
            Size = b.Upper - b.Lower,
            FillColor = b.Count == 0 ? ScottPlot.Colors.LightGray : ScottPlot.Colors.SteelBlue,
        }).ToArray();
        plot.Add.Bars(bars);
        var diagonal = plot.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = ScottPlot.Colors.Red;
        diagonal.LinePattern = ScottPlot.LinePattern.Dashed;
        plot.XLabel("confidence");
        plot.YLabel("accuracy");
        plot.Axes.SetLimits(0, 1, 0, 1);
        return plot.GetImageBytes(560, 420, ScottPlot.ImageFormat.Png);
    }

    private static byte[] PerClassAccuracy(ErrorAnalysis errors)
    {
        var plot = new ScottPlot.Plot();
        plot.Add.Bars(errors.PerClass.Select(c => c.Accuracy).ToArray());
        if (NameClasses(errors.PerClass.Length))
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            foreach (var c in errors.PerClass) ticks.AddMajor(c.Class, c.Name);
            plot.Axes.Bottom.TickGenerator = ticks;
            RotateBottomLabels(plot);
        }
        plot.Axes.SetLimitsY(0, 1);
        plot.YLabel("accuracy");
        return plot.GetImageBytes(640, 420, ScottPlot.ImageFormat.Png);
    }

    private static string Html(Manifest manifest, Summary summary, List<(string Section, string Caption, string Name, byte[] Png)> plots)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder();
        html.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>")
            .Append(E(manifest.Job)).Append(" — ExplainCluster report</title><style>")
            .Append("body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}")
            .Append("figure{display:inline-block;margin:6px;vertical-align:top}figcaption{font-size:12px;max-width:240px}img{image-rendering:pixelated}")
            .Append("</style></head><body>");
        html.Append("<h1>").Append(E(manifest.Job)).Append("</h1><p>")
            .Append(string.Create(inv, $"{manifest.Samples} samples, model <code>{E(manifest.Model)}</code> (sha256 {E(manifest.ModelSha256 ?? "?")}), "))
            .Append(string.Create(inv, $"data <code>{E(manifest.Inputs)}</code>, methods {E(string.Join(", ", manifest.Methods))}, target {E(manifest.Target)}."))
            .Append("</p>");
        if (summary.ErrorAnalysis is { } e)
        {
            html.Append(string.Create(inv, $"<h2>Error analysis</h2><p>Accuracy <b>{e.Accuracy:P2}</b>, mean NLL {e.MeanNll:F4}, expected calibration error {e.ExpectedCalibrationError:F4}.</p>"));
            html.Append("<table><tr><th>class</th><th>support</th><th>precision</th><th>recall</th><th>F1</th></tr>");
            foreach (var c in e.PerClass)
                html.Append(string.Create(inv, $"<tr><td>{E(c.Name)}</td><td>{c.Support}</td><td>{c.Precision:F3}</td><td>{c.Recall:F3}</td><td>{c.F1:F3}</td></tr>"));
            html.Append("</table><h3>Most confused pairs</h3><table><tr><th>label</th><th>predicted as</th><th>count</th></tr>");
            foreach (var p in e.MostConfused)
                html.Append(string.Create(inv, $"<tr><td>{E(p.LabelName)}</td><td>{E(p.PredictionName)}</td><td>{p.Count}</td></tr>"));
            html.Append("</table>");
        }
        html.Append("<h2>Methods</h2><table><tr><th>method</th><th>samples explained</th><th>map shape</th><th>mean |attribution|</th></tr>");
        foreach (var (name, m) in summary.Methods)
            html.Append(string.Create(inv, $"<tr><td>{E(name)}</td><td>{m.Samples} of {summary.Samples}</td><td>[{string.Join(", ", m.MapShape)}]</td><td>{m.MeanAbs:G4}</td></tr>"));
        html.Append("</table>");
        if (summary.Faithfulness is { } faithfulness) FaithfulnessPlots.Table(html, faithfulness);
        if (summary.Sanity is { } sanity) SanityPlots.Table(html, sanity);
        if (summary.ParamGrads is { } paramGrads) ParamGradPlots.Table(html, paramGrads);
        if (summary.Views is { } views) ViewPlots.Tables(html, views, summary.Classes);
        foreach (var section in plots.GroupBy(p => p.Section))
        {
            html.Append("<h2>").Append(E(section.Key)).Append("</h2>");
            foreach (var p in section)
                html.Append("<figure><img alt=\"").Append(E(p.Caption)).Append("\" src=\"data:image/png;base64,")
                    .Append(Convert.ToBase64String(p.Png)).Append("\"><figcaption>").Append(E(p.Caption)).Append("</figcaption></figure>");
        }
        html.Append("</body></html>");
        return WithContents(html.ToString());
    }

    /// <summary>
    /// The report is long (every method, view and check): a list of its sections, linked, goes under the title.
    /// Each &lt;h2&gt; gets an anchor before it, in document order.
    /// </summary>
    private static string WithContents(string html)
    {
        var sections = new List<string>();
        var numbered = System.Text.RegularExpressions.Regex.Replace(html, "<h2>(.*?)</h2>", m =>
        {
            sections.Add(m.Groups[1].Value);
            return $"<a id=\"section-{sections.Count}\"></a><h2>{m.Groups[1].Value}</h2>";
        });
        var contents = new StringBuilder("<nav><h3>Contents</h3><ol>");
        for (var i = 0; i < sections.Count; i++) contents.Append($"<li><a href=\"#section-{i + 1}\">{sections[i]}</a></li>");
        contents.Append("</ol></nav>");
        var at = numbered.IndexOf("<a id=\"section-1\">", StringComparison.Ordinal);
        return at < 0 ? numbered : numbered.Insert(at, contents.ToString());
    }
}
