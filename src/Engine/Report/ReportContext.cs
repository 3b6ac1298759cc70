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
    /// <summary>Samples drawn per list of samples (the highest losses, the largest parameter gradients).</summary>
    public const int TopSamples = 8;

    /// <summary>Class-mean maps drawn per method, and class names written along an axis, at most.</summary>
    public const int MaxClasses = 24;

    private ReportContext(BlobLocator locator, IBlob output, Manifest manifest, Summary summary, ArrayFile? inputs)
    {
        (Locator, Output, Manifest, Summary, Inputs) = (locator, output, manifest, summary, inputs);
        (InputChannels, Height, Width) = Planes(summary.Inputs.Shape);
    }

    public BlobLocator Locator { get; }

    /// <summary>The job's output folder.</summary>
    public IBlob Output { get; }

    public Manifest Manifest { get; }

    public Summary Summary { get; }

    /// <summary>The job's inputs, or null when the report cannot read them: sections then leave the samples' images out.</summary>
    public ArrayFile? Inputs { get; }

    /// <summary>The input's channels and image size: the geometry every overlay is drawn at.</summary>
    public int InputChannels { get; }

    public int Height { get; }

    public int Width { get; }

    /// <param name="inputs">Where the job's inputs are, when known: manifest.json names them with any SAS token redacted,
    /// so a report made again from the outputs alone cannot read such inputs and leaves their images out.</param>
    public static async Task<ReportContext> OpenAsync(BlobLocator locator, string outputLocation, string? inputs, CancellationToken ct)
    {
        var output = locator.Resolve(outputLocation);
        var manifest = await ReadJsonAsync<Manifest>(output.Child(OutputLayout.Manifest), ct);
        var summary = await ReadJsonAsync<Summary>(output.Child(OutputLayout.Summary), ct);
        inputs ??= manifest.Inputs.Contains(Redaction.Marker, StringComparison.Ordinal) ? null : manifest.Inputs;
        var inputFile = inputs is null ? null : await ArrayFile.OpenAsync(locator.Resolve(inputs), ct);
        return new ReportContext(locator, output, manifest, summary, inputFile);
    }

    /// <summary>A .npy file of the outputs, by its path relative to the output folder.</summary>
    public Task<ArrayFile> OpenAsync(string path, CancellationToken ct) => ArrayFile.OpenAsync(Output.Child(path), ct);

    /// <summary>
    /// A sample drawn as its input, then each pixel method's map over it (where the method explained it): the figures
    /// <paramref name="name"/>-INDEX-input and <paramref name="name"/>-INDEX-METHOD. None when the inputs cannot be read.
    /// </summary>
    public async Task<IReadOnlyList<Figure>> SampleAsync(string name, string caption, long index, int shard, int shardRow, CancellationToken ct)
    {
        if (Inputs is null) return [];
        var (height, width) = (Height, Width);
        var image = ChannelMean(Array.ConvertAll(await Inputs.ReadFloatsAsync(index, 1, ct), v => (double)v), InputChannels, height * width);
        var figures = new List<Figure> { new($"{name}-{index}-input", caption + " — input", () => Heatmaps.Grey(image, height, width)) };
        foreach (var (method, stats) in Summary.Methods)
        {
            if (!OverPixels(stats) || await MapRowAsync(method, stats, index, shard, shardRow, ct) is not { } row) continue; // outside the method's subset
            var (mapChannels, mh, mw) = Planes(stats.MapShape);
            var part = await OpenAsync(OutputLayout.AttributionPart(method, shard), ct);
            var map = ChannelMean(await ReadRowAsync(part, row, ct), mapChannels, mh * mw);
            figures.Add(new($"{name}-{index}-{method}", caption + $" — {method}", () => Heatmaps.Overlay(image, height, width, map, mh, mw)));
        }
        return figures;
    }

    /// <summary>The first <see cref="TopSamples"/> of a list of samples, each drawn by <see cref="SampleAsync"/>, one after another.</summary>
    public async Task<IReadOnlyList<Figure>> SamplesAsync(string name, IEnumerable<(string Caption, long Index, int Shard, int Row)> samples, CancellationToken ct)
    {
        var figures = new List<Figure>();
        foreach (var (caption, index, shard, row) in samples.Take(TopSamples))
            figures.AddRange(await SampleAsync(name, caption, index, shard, row, ct));
        return figures;
    }

    /// <summary>Whether a method's maps are images to draw ([h, w] or [c, h, w]); param-grads' per-layer norms are not.</summary>
    public static bool OverPixels(MethodSummary stats) => stats.MapShape.Length >= 2;

    /// <summary>An image's shape, [h, w] or [c, h, w], as its channels (1 for [h, w]), height and width.</summary>
    public static (int Channels, int Height, int Width) Planes(int[] shape) => (shape.Length == 3 ? shape[0] : 1, shape[^2], shape[^1]);

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
        var file = await ArrayFile.OpenAsync(index, ct);
        var row = Array.IndexOf(await file.ReadIntegersAsync(0, (int)file.Header.Count, ct), sample);
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
