using System.Globalization;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Compare;

/// <summary>
/// The samples whose explanation changed most, drawn A beside B: per method one grid, a row per sample (its input in grey,
/// A's map, B's map), both runs' maps on one <see cref="MapScale"/> so a colour means the same value in either.
/// </summary>
public static class ChangedSampleFigures
{
    /// <summary>The most-changed samples drawn per method (the comparison lists <see cref="Comparer.MostChanged"/>).</summary>
    public const int Drawn = 4;

    /// <summary>One figure per method with changed samples, named <c>changed-METHOD</c>; the inputs are left out when they cannot be read.</summary>
    public static async Task<IReadOnlyList<Figure>> DrawAsync(BlobLocator locator, string baseline, string candidate, Comparison comparison,
        bool candidateFinishing = false, CancellationToken ct = default)
    {
        if (comparison.Methods.Length == 0) return [];
        var a = await RunOutputs.OpenAsync(locator, baseline, "baseline", ct);
        var b = await RunOutputs.OpenAsync(locator, candidate, "candidate", ct, candidateFinishing);
        var context = await ReportContext.OpenAsync(locator, baseline, null, ct);
        var names = a.Summary.Classes;
        var figures = new List<Figure>();
        foreach (var method in comparison.Methods)
        {
            var samples = method.MostChanged.Take(Drawn).ToArray();
            if (samples.Length == 0) continue;
            var planes = ReportContext.Planes(a.StoredShape(method.Method));
            var (mapsA, mapsB) = (await a.MapsAsync(method.Method, ct), await b.MapsAsync(method.Method, ct));
            var rows = new List<(ChangedSample Sample, double[]? Input, double[] A, double[] B)>();
            foreach (var s in samples)
            {
                var input = await context.ReadSampleAsync(s.Index, ct) is { } values
                    ? ReportContext.ChannelMean(Array.ConvertAll(values, v => (double)v), context.InputChannels, context.Height * context.Width)
                    : null;
                rows.Add((s, input, await MapAsync(mapsA, s.Index, planes, ct), await MapAsync(mapsB, s.Index, planes, ct)));
            }
            var scale = MapScale.Of(rows.SelectMany(r => new[] { r.A, r.B }));
            var tiles = new List<Tile?>();
            foreach (var r in rows)
            {
                tiles.Add(r.Input is null ? null : new Tile(F($"#{r.Sample.Index} input"), r.Input, context.Height, context.Width));
                tiles.Add(new Tile(F($"#{r.Sample.Index} A"), r.A, planes.Height, planes.Width, scale));
                tiles.Add(new Tile(F($"#{r.Sample.Index} B (ρ {r.Sample.Spearman:0.00})"), r.B, planes.Height, planes.Width, scale));
            }
            var caption = F($"{method.Method}: the {rows.Count} samples whose maps agree least, A (baseline) beside B (candidate), each row a sample: its input in grey, then A's and B's map (mean over channels) on one scale, {scale.Describe()}.");
            var alt = string.Join(" ", rows.Select(r => Describe(r.Sample, names) + " " + MapText.Describe("A", r.A, planes, scale) + " " + MapText.Describe("B", r.B, planes, scale)));
            var (height, width) = (context.Height, context.Width);
            figures.Add(new Figure($"changed-{method.Method}", caption,
                () => Heatmaps.Grid(tiles, 3, height, width, new GridBar(scale, $"{method.Method}, A and B")), alt));
        }
        return figures;
    }

    private static async Task<double[]> MapAsync(RunOutputs.MapRows maps, long index, (int Channels, int Height, int Width) planes, CancellationToken ct)
    {
        var row = await maps.RowAsync(index, ct) ?? throw new InvalidOperationException($"sample {index} has no map"); // listed only where both runs explained it
        return ReportContext.ChannelMean(Array.ConvertAll(row.ToArray(), v => (double)v), planes.Channels, planes.Height * planes.Width);
    }

    private static string Describe(ChangedSample s, string[] names) =>
        F($"Sample #{s.Index} (label {Name(s.Label, names)}; A predicted {Name(s.PredictionA, names)}, B {Name(s.PredictionB, names)}): rank correlation of |map| {s.Spearman:0.000}, top-10 % overlap {s.TopOverlap:0.000}.");

    private static string Name(int? c, string[] names) => c is { } k ? (uint)k < names.Length ? names[k] : k.ToString(CultureInfo.InvariantCulture) : "none";

    private static string F(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
