using System.Text;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// Renders OUT/report.html (self-contained: plots inlined) and OUT/plots/*.png from the written outputs alone, so a
/// report can be made again at any time from manifest.json and summary.json. The report is its sections
/// (<see cref="ReportSections"/>): each writes its own text and asks for its own figures.
/// </summary>
public sealed class ReportWriter(BlobLocator locator)
{
    /// <param name="inputs">Where the job's inputs are, when known: manifest.json names them with any SAS token
    /// redacted, so a report made again from the outputs alone cannot read such inputs and leaves their images out.</param>
    public async Task WriteAsync(string outputLocation, CancellationToken ct = default, string? inputs = null)
    {
        var report = await ReportContext.OpenAsync(locator, outputLocation, inputs, ct);
        var text = ReportSections.Text.Select(s => s.Text(report)).OfType<ReportText>().ToList();
        // Everything to draw is gathered first, then rendered in parallel: the plots are independent.
        var groups = new List<FigureGroup>();
        foreach (var section in ReportSections.Figures)
            groups.AddRange((await section.FiguresAsync(report, ct)).Where(g => g.Figures.Count > 0));
        var drawn = await Task.WhenAll(groups.Select(async g => (Group: g, Pngs: await Task.WhenAll(g.Figures.Select(f => Task.Run(f.Render, ct))))));
        await Task.WhenAll(drawn.SelectMany(d => d.Group.Figures.Zip(d.Pngs, (f, png) => report.Output.Child(OutputLayout.Plot(f.Name)).WriteAsync(png, ct))));
        await report.Output.Child(OutputLayout.Report).WriteAsync(Encoding.UTF8.GetBytes(ReportHtml.Document(report.Manifest.Job, text, drawn)), ct);
    }
}
