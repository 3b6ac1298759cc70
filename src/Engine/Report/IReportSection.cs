namespace ExplainCluster.Engine.Report;

/// <summary>
/// One feature's part of report.html. The report is every section's text (in <see cref="ReportSections.Text"/>'s order)
/// and then every section's figures (in <see cref="ReportSections.Figures"/>'s order); each titled part is an &lt;h2&gt;
/// with an anchor, and the report's list of contents is made from those titles. A section the job did not compute
/// returns nothing, and so has no heading and no entry in the contents.
/// </summary>
public interface IReportSection
{
    /// <summary>Its text and tables, from the manifest and summary alone; null when it has none.</summary>
    ReportText? Text(ReportContext report) => null;

    /// <summary>Its figures: the plots it asks for, read from the outputs and rendered later (in parallel with every other section's).</summary>
    Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct) => Task.FromResult<IReadOnlyList<FigureGroup>>([]);
}

/// <summary>A part of the report's text: an &lt;h2&gt; titled <paramref name="Title"/> (plain text; none for the header under the &lt;h1&gt;) and then <paramref name="Html"/>.</summary>
public sealed record ReportText(string? Title, string Html);

/// <summary>
/// A plot: written to plots/<paramref name="Name"/>.png and inlined in the report as a figure with <paramref name="Caption"/> (plain text).
/// <paramref name="Render"/> makes the PNG from what the section read; it may run on any thread. <paramref name="Alt"/> is its
/// text for a reader who cannot see it: what it shows in numbers (not the caption again); the caption stands in without one.
/// </summary>
public sealed record Figure(string Name, string Caption, Func<byte[]> Render, string? Alt = null);

/// <summary>Figures under one &lt;h2&gt; (<paramref name="Title"/>, plain text); a group without figures is left out of the report.</summary>
public sealed record FigureGroup(string Title, IReadOnlyList<Figure> Figures);
