using System.Globalization;
using ExplainCluster.Engine.Cohorts;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// The class-mean maps of each cohort (summary.json's <c>cohortMaps</c>): per pixel method and cohort column, one grid with a
/// row per value and a column per target class, every map on one scale, so that a reader sees whether the model looks at
/// other parts of the image for one site than for another.
/// </summary>
public sealed class CohortMapsSection : IReportSection
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.CohortMaps is not { Methods.Length: > 0 } maps) return null;
        var skipped = maps.Methods[0].Columns.Where(c => c.File is null).Select(c => $"<code>{E(c.Column)}</code>").ToArray();
        var factors = maps.Methods.Select(m => m.Factor).Distinct().ToArray();
        var grid = factors is [1] ? "at the map's own resolution"
            : string.Create(Inv, $"averaged over blocks of pixels so that no side exceeds {maps.MaxSide} cells ({string.Join(", ", maps.Methods.Select(m => $"{E(m.Method)}: {m.Factor}×{m.Factor} pixels a cell"))})");
        return new ReportText("Class-mean maps by cohort",
            "<p>For each cohort value, the mean map of its samples of each target class, over the channels and " + grid + ". "
            + "Set side by side, the rows show whether the model attends to other parts of the image in one cohort than in another for the same class. "
            + "An empty tile: the cohort has no sample of that class. The sums are folded in shard order, the same however the job was sharded."
            + (skipped.Length > 0 ? string.Create(Inv, $" {string.Join(", ", skipped)}: more than {maps.MaxValues} values, no maps.") : "")
            + "</p>");
    }

    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.CohortMaps is not { } maps) return [];
        var groups = new List<FigureGroup>();
        foreach (var method in maps.Methods)
            foreach (var column in method.Columns)
            {
                if (column.File is null || column.Values.Length == 0 || column.Classes.Length == 0) continue;
                var file = await report.OpenAsync(column.File, ct);
                var (h, w) = (method.Height, method.Width);
                var classes = column.Classes.Length;
                var rows = new List<double[]?>();
                for (var v = 0; v < column.Values.Length; v++)
                {
                    // One value's row of the file: its maps of every class, [classes, h, w].
                    var row = await ReportContext.ReadRowAsync(file, v, ct);
                    for (var c = 0; c < classes; c++) rows.Add(column.Counts[v][c] == 0 ? null : row[(c * h * w)..((c + 1) * h * w)]);
                }
                var scale = MapScale.Of(rows.OfType<double[]>());
                var tiles = new List<Tile?>();
                for (var v = 0; v < column.Values.Length; v++)
                    for (var c = 0; c < classes; c++)
                    {
                        var n = column.Counts[v][c];
                        tiles.Add(new Tile(string.Create(Inv, $"{column.Values[v]} · {column.ClassNames![c]} (n={n})"), rows[v * classes + c], h, w, scale));
                    }
                var units = MapUnits.Of(method.Method, report.Manifest.JobFile);
                var caption = string.Create(Inv, $"Mean {method.Method} map per value of {column.Column} (rows) and target class (columns); ")
                    + $"every tile on one scale, {scale.Describe()} ({units}).";
                var alt = string.Create(Inv, $"{column.Values.Length} rows ({string.Join(", ", column.Values)}) of {classes} classes, {h}×{w} cells each; ")
                    + string.Create(Inv, $"{column.Counts.Sum(r => r.Count(n => n > 0))} tiles with samples.");
                groups.Add(new FigureGroup($"{method.Method} by {column.Column}",
                    [new($"cohort-maps-{method.Method}-{Array.IndexOf(method.Columns, column)}", caption,
                        () => Heatmaps.Grid(tiles, classes, h, w, new GridBar(scale, $"mean {method.Method} ({units})")), alt)]));
            }
        return groups;
    }
}
