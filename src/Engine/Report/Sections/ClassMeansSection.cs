using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>Per pixel method, its mean map for each target class drawn over the class's mean input.</summary>
public sealed class ClassMeansSection : IReportSection
{
    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        var (summary, height, width) = (report.Summary, report.Height, report.Width);
        var inputMeans = await report.OpenAsync(summary.Inputs.ClassMeans, ct);
        var inputRows = summary.Inputs.PerClass.ToDictionary(c => c.Class, c => c.Row);
        var groups = new List<FigureGroup>();
        foreach (var (method, stats) in summary.Methods)
        {
            if (stats.ClassMeans is null || !ReportContext.OverPixels(stats)) continue; // its subset took no sample, or its maps are not images
            var (mapChannels, mh, mw) = ReportContext.Planes(stats.MapShape);
            var means = await report.OpenAsync(stats.ClassMeans, ct);
            var shown = ClassesShown(stats.PerClass);
            var figures = new List<Figure>();
            foreach (var c in shown)
            {
                var baseImage = ReportContext.ChannelMean(await ReportContext.ReadRowAsync(inputMeans, inputRows[c.Class], ct), report.InputChannels, height * width);
                var map = ReportContext.ChannelMean(await ReportContext.ReadRowAsync(means, c.Row, ct), mapChannels, mh * mw);
                figures.Add(new($"class-mean-{method}-{c.Class}", $"{c.Name} (n={c.Count})", () => Heatmaps.Overlay(baseImage, height, width, map, mh, mw)));
            }
            groups.Add(new(shown.Length == stats.PerClass.Length
                ? $"Class-mean {method}"
                : $"Class-mean {method}: the {shown.Length} classes with the most samples, of {stats.PerClass.Length}", figures));
        }
        return groups;
    }

    /// <summary>
    /// The classes whose mean maps the report draws: all of them up to <see cref="ReportContext.MaxClasses"/>, else those
    /// with the most samples (ties to the lower class), in class order. The files hold every class.
    /// </summary>
    private static ClassRow[] ClassesShown(ClassRow[] rows) => rows.Length <= ReportContext.MaxClasses ? rows
        : [.. rows.OrderByDescending(c => c.Count).ThenBy(c => c.Class).Take(ReportContext.MaxClasses).OrderBy(c => c.Class)];
}
