using System.Globalization;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Per pixel method, one grid: its mean map for each target class, under the class's mean input, on one scale.</summary>
public sealed class ClassMeansSection : IReportSection
{
    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        var (summary, height, width, inv) = (report.Summary, report.Height, report.Width, CultureInfo.InvariantCulture);
        var inputMeans = await report.OpenAsync(summary.Inputs.ClassMeans, ct);
        var inputRows = summary.Inputs.PerClass.ToDictionary(c => c.Class, c => c.Row);
        var groups = new List<FigureGroup>();
        foreach (var (method, stats) in summary.Methods)
        {
            if (stats.ClassMeans is null || !ReportContext.OverPixels(stats)) continue; // its subset took no sample, or its maps are not images
            var planes = ReportContext.Planes(stats.MapShape);
            var means = await report.OpenAsync(stats.ClassMeans, ct);
            var shown = ClassesShown(stats.PerClass);
            var inputs = new List<double[]>();
            var maps = new List<double[]>();
            foreach (var c in shown)
            {
                inputs.Add(ReportContext.ChannelMean(await ReportContext.ReadRowAsync(inputMeans, inputRows[c.Class], ct), report.InputChannels, height * width));
                maps.Add(ReportContext.ChannelMean(await ReportContext.ReadRowAsync(means, c.Row, ct), planes.Channels, planes.Height * planes.Width));
            }
            // Rows of classes: each class's mean input over its mean map, every map on the one scale of the bar under the grid.
            var scale = MapScale.Of(maps);
            var columns = Columns(shown.Length);
            var tiles = new List<Tile?>();
            for (var start = 0; start < shown.Length; start += columns)
            {
                var row = Enumerable.Range(start, Math.Min(columns, shown.Length - start)).ToArray();
                tiles.AddRange(row.Select(i => new Tile(string.Create(inv, $"{shown[i].Name} (n={shown[i].Count})"), inputs[i], height, width)));
                tiles.AddRange(Enumerable.Repeat<Tile?>(null, columns - row.Length));
                tiles.AddRange(row.Select(i => new Tile("", maps[i], planes.Height, planes.Width, scale)));
                tiles.AddRange(Enumerable.Repeat<Tile?>(null, columns - row.Length));
            }
            var units = MapUnits.Of(method, report.Manifest.JobFile);
            var strongest = Enumerable.Range(0, shown.Length).MaxBy(i => maps[i].Max(Math.Abs));
            var caption = string.Create(inv, $"Mean {method} map of each target class (below the class's mean input; n: its samples); ")
                + $"every class on one scale, {scale.Describe()} ({units}): the 99th percentile of |value| over the grid.";
            var alt = string.Create(inv, $"Mean {method} maps of {shown.Length} classes, {planes.Height}×{planes.Width} each, on one scale ({scale.Describe()}). ")
                + string.Create(inv, $"Strongest: {shown[strongest].Name} (n={shown[strongest].Count}); ")
                + MapText.Describe(shown[strongest].Name, maps[strongest], planes, scale);
            groups.Add(new(shown.Length == stats.PerClass.Length
                ? $"Class-mean {method}"
                : $"Class-mean {method}: the {shown.Length} classes with the most samples, of {stats.PerClass.Length}",
                [new($"class-mean-{method}", caption, () => Heatmaps.Grid(tiles, columns, height, width, new GridBar(scale, $"mean {method} ({units})")), alt)]));
        }
        return groups;
    }

    /// <summary>Classes per row: as even as rows of at most eight allow (10 classes: two rows of 5).</summary>
    private static int Columns(int classes)
    {
        var rows = (classes + 7) / 8;
        return Math.Max(1, (classes + rows - 1) / rows);
    }

    /// <summary>
    /// The classes whose mean maps the report draws: all of them up to <see cref="ReportContext.MaxClasses"/>, else those
    /// with the most samples (ties to the lower class), in class order. The files hold every class.
    /// </summary>
    private static ClassRow[] ClassesShown(ClassRow[] rows) => rows.Length <= ReportContext.MaxClasses ? rows
        : [.. rows.OrderByDescending(c => c.Count).ThenBy(c => c.Class).Take(ReportContext.MaxClasses).OrderBy(c => c.Class)];
}
