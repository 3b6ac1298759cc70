using System.Text;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// Renders OUT/report.html (self-contained: plots inlined), OUT/plots/*.png and OUT/evidence.json from the written outputs
/// alone, so a report can be made again at any time from manifest.json and summary.json. The report is its chapters
/// (<see cref="ReportSections"/>): each section writes its own text and asks for its own figures, which follow it.
/// </summary>
public sealed class ReportWriter(Storage.BlobLocator locator)
{
    /// <param name="inputs">Where the job's inputs are, when known: manifest.json names them with any SAS token
    /// redacted, so a report made again from the outputs alone cannot read such inputs and leaves their images out.</param>
    /// <param name="samples">The job's reader of its samples, for inputs that are not one array (image files).</param>
    public async Task WriteAsync(string outputLocation, CancellationToken ct = default, string? inputs = null, ReportContext.SampleReader? samples = null)
    {
        var report = await ReportContext.OpenAsync(locator, outputLocation, inputs, ct, samples);
        var chapters = new List<(string Title, IReadOnlyList<ReportPart> Parts)>();
        foreach (var chapter in ReportSections.Chapters)
        {
            var parts = new List<ReportPart>();
            foreach (var section in chapter.Sections) parts.AddRange(await section.PartsAsync(report, ct));
            if (parts.Count > 0) chapters.Add((chapter.Title, parts));
        }
        // Everything to draw is gathered first, then rendered in parallel: the plots are independent.
        var groups = chapters.SelectMany(c => c.Parts).OfType<FigureGroup>().Where(g => g.Figures.Count > 0).ToArray();
        var pngs = await Task.WhenAll(groups.Select(g => Task.WhenAll(g.Figures.Select(f => Task.Run(f.Render, ct)))));
        await Task.WhenAll(groups.Zip(pngs).SelectMany(d => d.First.Figures.Zip(d.Second, (f, png) => report.Output.Child(OutputLayout.Plot(f.Name)).WriteAsync(png, ct))));
        var drawn = new Dictionary<FigureGroup, byte[][]>(ReferenceEqualityComparer.Instance);
        foreach (var (group, images) in groups.Zip(pngs)) drawn[group] = images;
        var html = ReportHtml.Document(report.Manifest.Job, ReportSections.Header.Text(report), chapters, drawn);
        await report.Output.Child(OutputLayout.Report).WriteAsync(Encoding.UTF8.GetBytes(html), ct);
        await report.Output.Child(OutputLayout.Evidence).WriteAsync(await EvidencePack.JsonAsync(report, ct), ct);
    }
}
