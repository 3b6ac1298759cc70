namespace ExplainCluster.Engine.Report;

/// <summary>
/// One topic of report.html. The report is a list of chapters (<see cref="ReportSections.Chapters"/>, in model-card order);
/// each chapter is its sections' parts, and each section's parts are its text followed by its own figures
/// (<see cref="PartsAsync"/>). A section the job did not compute returns nothing, and a chapter with nothing in it is left
/// out: neither gets a heading nor an entry in the contents.
/// </summary>
public interface IReportSection
{
    /// <summary>Its text and tables, from the manifest and summary alone; null when it has none.</summary>
    ReportText? Text(ReportContext report) => null;

    /// <summary>Its figures: the plots it asks for, read from the outputs and rendered later (in parallel with every other section's).</summary>
    Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct) => Task.FromResult<IReadOnlyList<FigureGroup>>([]);

    /// <summary>
    /// What the section puts in its chapter, in order: by default its <see cref="Text"/> and then its figure groups, so a
    /// topic's tables and plots stand together. A section that interleaves (each method's text, then its maps) says so here.
    /// </summary>
    Task<IReadOnlyList<ReportPart>> PartsAsync(ReportContext report, CancellationToken ct) => ReportPart.TextThenFiguresAsync(this, report, ct);
}

/// <summary>A piece of a chapter: text (<see cref="ReportText"/>) or a group of figures (<see cref="FigureGroup"/>).</summary>
public abstract record ReportPart
{
    /// <summary>The plain-text title of the part (an &lt;h3&gt; in its chapter), or null for untitled text.</summary>
    public abstract string? Heading { get; }

    /// <summary>A section's text (when it has some) followed by its figure groups that have figures.</summary>
    public static async Task<IReadOnlyList<ReportPart>> TextThenFiguresAsync(IReportSection section, ReportContext report, CancellationToken ct)
    {
        var parts = new List<ReportPart>();
        if (section.Text(report) is { } text) parts.Add(text);
        parts.AddRange((await section.FiguresAsync(report, ct)).Where(g => g.Figures.Count > 0));
        return parts;
    }
}

/// <summary>A part of the report's text: a heading titled <paramref name="Title"/> (plain text; none when null) and then <paramref name="Html"/>.</summary>
public sealed record ReportText(string? Title, string Html) : ReportPart
{
    public override string? Heading => Title;
}

/// <summary>
/// A plot: written to plots/<paramref name="Name"/>.png and inlined in the report as a figure with <paramref name="Caption"/> (plain text).
/// <paramref name="Render"/> makes the PNG from what the section read; it may run on any thread. <paramref name="Alt"/> is its
/// text for a reader who cannot see it: what it shows in numbers (not the caption again); the caption stands in without one.
/// </summary>
public sealed record Figure(string Name, string Caption, Func<byte[]> Render, string? Alt = null);

/// <summary>Figures under one heading (<paramref name="Title"/>, plain text); a group without figures is left out of the report.</summary>
public sealed record FigureGroup(string Title, IReadOnlyList<Figure> Figures) : ReportPart
{
    public override string? Heading => Title;
}

/// <summary>A chapter of the report: an &lt;h2&gt; with an entry in the contents, and the parts of its sections in order.</summary>
public sealed record ReportChapter(string Title, IReadOnlyList<IReportSection> Sections);
