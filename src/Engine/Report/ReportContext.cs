using System.Globalization;
using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// What a report section reads: the job's outputs, its manifest and summary, and its inputs where the report can read
/// them; with the reading and drawing every section shares (a row of a .npy file, a channel mean, a sample and its maps).
/// </summary>
public sealed class ReportContext
{
    /// <summary>Class-mean maps drawn per method, and class names written along an axis, at most.</summary>
    public const int MaxClasses = 24;

    private ReportContext(BlobLocator locator, IBlob output, Manifest manifest, Summary summary, SampleReader? inputs)
    {
        (Locator, Output, Manifest, Summary, _readSample) = (locator, output, manifest, summary, inputs);
        (InputChannels, Height, Width) = Planes(summary.Inputs.Shape);
    }

    public BlobLocator Locator { get; }

    /// <summary>The job's output folder.</summary>
    public IBlob Output { get; }

    public Manifest Manifest { get; }

    public Summary Summary { get; }

    private readonly SampleReader? _readSample;

    /// <summary>One sample's raw input values (as the shard read them), by dataset index.</summary>
    public delegate Task<float[]> SampleReader(long index, CancellationToken ct);

    /// <summary>Whether the report can read the job's inputs: when it cannot, sections leave the samples' images out.</summary>
    public bool HasInputs => _readSample is not null;

    /// <summary>
    /// Whether the job had labels. They come from a labels file, an image folder's names, a manifest's or a table's column,
    /// so the error analysis, not the manifest's labels file, says there were some.
    /// </summary>
    public bool Labelled => Summary.ErrorAnalysis is not null;

    /// <summary>Whether the job explained a table (<c>data.table</c>): its samples are rows, and the report draws none of them.</summary>
    public bool IsTable => JobFileValues.At(Manifest.JobFile, "data", "table") is not null;

    /// <summary>One sample's raw input values by dataset index; null when the report cannot read the job's inputs.</summary>
    public async Task<float[]?> ReadSampleAsync(long index, CancellationToken ct) => _readSample is null ? null : await _readSample(index, ct);

    /// <summary>The input's channels and image size: the geometry every overlay is drawn at.</summary>
    public int InputChannels { get; }

    public int Height { get; }

    public int Width { get; }

    /// <param name="inputs">Where the job's inputs are, when known: manifest.json names them with any SAS token redacted,
    /// so a report made again from the outputs alone cannot read such inputs and leaves their images out.</param>
    /// <param name="samples">The job's own reader of its samples (image files, which are not one array), when the job is at hand.</param>
    public static async Task<ReportContext> OpenAsync(BlobLocator locator, string outputLocation, string? inputs, CancellationToken ct, SampleReader? samples = null)
    {
        var output = locator.Resolve(outputLocation);
        var manifest = await ReadJsonAsync<Manifest>(output.Child(OutputLayout.Manifest), ct);
        var summary = await ReadJsonAsync<Summary>(output.Child(OutputLayout.Summary), ct);
        inputs ??= manifest.Inputs.Contains(Redaction.Marker, StringComparison.Ordinal) ? null : manifest.Inputs;
        // Image files (data.images, data.manifest) are not one array: only the job's own reader reads them. A table's
        // samples are rows, drawn as no image.
        if (samples is null && inputs is not null && !ReadsFiles(manifest))
        {
            var file = await ArrayFile.OpenAsync(locator.Resolve(inputs), ct);
            samples = (index, token) => file.ReadFloatsAsync(index, 1, token);
        }
        return new ReportContext(locator, output, manifest, summary, samples);
    }

    private static bool ReadsFiles(Manifest manifest) =>
        manifest.JobFile.ValueKind == System.Text.Json.JsonValueKind.Object && manifest.JobFile.TryGetProperty("data", out var data)
        && data.ValueKind == System.Text.Json.JsonValueKind.Object
        && (data.TryGetProperty("images", out _) || data.TryGetProperty("manifest", out _) || data.TryGetProperty("tar", out _)
            || data.TryGetProperty("table", out _));

    /// <summary>A .npy file of the outputs, by its path relative to the output folder.</summary>
    /// <param name="allowEmpty">Accept a part of no rows (a shard that holds none of a method's subset).</param>
    public Task<ArrayFile> OpenAsync(string path, CancellationToken ct, bool allowEmpty = false) => ArrayFile.OpenAsync(Output.Child(path), ct, allowEmpty);

    /// <summary>
    /// A list of samples (the highest losses, the largest parameter gradients), every one drawn as one figure
    /// <paramref name="name"/>-INDEX: its input, then each pixel method's map in one row ("not explained" outside the method's
    /// subset). Each method's maps share one <see cref="MapScale"/> over the whole list, so a column reads the same in every
    /// figure, with its bar and units under each map. The caption ends with the sample's shard part and row. None when the
    /// inputs cannot be read.
    /// </summary>
    public async Task<IReadOnlyList<Figure>> SamplesAsync(string name, IEnumerable<(string Caption, long Index, int Shard, int Row)> samples, CancellationToken ct)
    {
        if (_readSample is null) return [];
        var (height, width) = (Height, Width);
        // "maps": {"store": "none"}: no sample's maps to draw, only its input.
        var methods = !StoredMaps.Of(Manifest).Stored ? [] : Summary.Methods.Where(m => OverPixels(m.Value)).ToArray();
        var drawn = new List<(string Caption, long Index, int Shard, int Row, double[] Image, double[]?[] Maps)>();
        foreach (var (caption, index, shard, row) in samples)
        {
            var image = ChannelMean(Array.ConvertAll(await _readSample(index, ct), v => (double)v), InputChannels, height * width);
            var maps = new double[]?[methods.Length];
            for (var k = 0; k < methods.Length; k++)
            {
                var (method, stats) = methods[k];
                if (await MapRowAsync(method, stats, index, shard, row, ct) is not { } mapRow) continue; // outside the method's subset
                var (mapChannels, mh, mw) = Planes(StoredShape(stats));
                maps[k] = ChannelMean(await ReadRowAsync(await OpenAsync(OutputLayout.AttributionPart(method, shard), ct), mapRow, ct), mapChannels, mh * mw);
            }
            drawn.Add((caption, index, shard, row, image, maps));
        }
        var scales = Enumerable.Range(0, methods.Length).Select(k => MapScale.Of(drawn.Select(d => d.Maps[k]).OfType<double[]>())).ToArray();
        var units = methods.Select(m => MapUnits.Of(m.Key, Manifest.JobFile)).ToArray();
        var inv = CultureInfo.InvariantCulture;
        // A method that explained none of these samples (a subset method) gets no column of grey gaps, one sentence instead.
        var shown = Enumerable.Range(0, methods.Length).Where(k => drawn.Any(d => d.Maps[k] is not null)).ToArray();
        var absent = methods.Where((_, k) => !shown.Contains(k)).Select(m => m.Key).ToArray();
        var none = absent.Length == 0 ? "" : $" {string.Join(" and ", absent)} explained none of them (not drawn).";
        return [.. drawn.Select((d, i) =>
        {
            var tiles = new List<Tile> { new("input", d.Image, height, width) };
            foreach (var k in shown)
            {
                var (_, mh, mw) = Planes(StoredShape(methods[k].Value));
                tiles.Add(new(methods[k].Key, d.Maps[k], mh, mw, scales[k], units[k]));
            }
            // How to read the grid is said once, under the first sample; the others name their sample only.
            var caption = string.Create(inv, $"{d.Caption} — shard {d.Shard}, row {d.Row} of {OutputLayout.SamplesPart(d.Shard)}.")
                + (i > 0 ? "" : string.Create(inv, $" Input in grey; each method's maps on one scale for all {drawn.Count} samples here (its bar: the 99th percentile of |value|).") + none);
            var alt = string.Create(inv, $"Sample #{d.Index}: its input and {d.Maps.Count(m => m is not null)} of {methods.Length} maps. ")
                + string.Join(" ", methods.Select((m, k) => d.Maps[k] is { } map ? MapText.Describe(m.Key, map, Planes(StoredShape(m.Value)), scales[k]) : $"{m.Key}: not explained."));
            return new Figure($"{name}-{d.Index}", caption, () => Heatmaps.Grid(tiles, tiles.Count, height, width), alt);
        })];
    }

    /// <summary>The shape of a method's per-sample maps as the job stored them (<c>maps</c>: channels summed, resolution reduced); summary.json's is the full one.</summary>
    public int[] StoredShape(MethodSummary stats) => StoredMaps.Of(Manifest).Shape(stats.MapShape);

    /// <summary>Whether a method's maps are images to draw ([h, w] or [c, h, w]); param-grads' per-layer norms are not.</summary>
    public static bool OverPixels(MethodSummary stats) => stats.MapShape.Length >= 2;

    /// <summary>An image's shape, [h, w] or [c, h, w], as its channels (1 for [h, w]), height and width; a table's vector [d] is one row of d.</summary>
    public static (int Channels, int Height, int Width) Planes(int[] shape) => (shape.Length == 3 ? shape[0] : 1, shape.Length >= 2 ? shape[^2] : 1, shape[^1]);

    public static async Task<double[]> ReadRowAsync(ArrayFile file, int row, CancellationToken ct) =>
        Array.ConvertAll(await file.ReadFloatsAsync(row, 1, ct), v => (double)v);

    /// <summary>[channels, plane] values as their mean over the channels, one plane.</summary>
    public static double[] ChannelMean(double[] values, int channels, int plane)
    {
        if (channels == 1) return values;
        var mean = new double[plane];
        for (var c = 0; c < channels; c++)
            for (var i = 0; i < plane; i++) mean[i] += values[c * plane + i] / channels;
        return mean;
    }

    /// <summary>
    /// The row of a sample's map in its shard's part: its row in the shard, or for a method with a subset its
    /// position in the part's index file; null when the method did not explain the sample.
    /// </summary>
    private async Task<int?> MapRowAsync(string method, MethodSummary stats, long sample, int shard, int shardRow, CancellationToken ct)
    {
        if (stats.ClassMeans is null) return null;
        var index = Output.Child(OutputLayout.AttributionIndex(method, shard));
        if (!await index.ExistsAsync(ct)) return shardRow;
        var row = Array.IndexOf(await ArrayFile.ReadIndicesAsync(index, ct), sample);
        return row < 0 ? null : row;
    }

    private static async Task<T> ReadJsonAsync<T>(IBlob blob, CancellationToken ct)
    {
        if (!await blob.ExistsAsync(ct)) throw new ExplainException($"{blob.Location} does not exist; is this a job's output?");
        await using var stream = await blob.OpenReadAsync(ct);
        return await JsonSerializer.DeserializeAsync<T>(stream, Manifest.Json, ct)
            ?? throw new ExplainException($"{blob.Location} is empty");
    }
}
