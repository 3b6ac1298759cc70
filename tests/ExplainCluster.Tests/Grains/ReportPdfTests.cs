using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// report.pdf as a reader gets it (<c>explain report OUT --pdf</c>, printed by headless Chromium): A4, more than one page,
/// every page numbered "page N of M" and nothing else in its margins, no table row on a page without its table's header,
/// no path of this machine; the report's pictures described in numbers for a reader who cannot see them.
/// </summary>
public partial class ReportPdfTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private static readonly string[] Classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    [Fact]
    public async Task ReportPdf_OfAJob_IsA4_NumberedPages_HeadersWithTheirRows_NoMachinePath_AndOneLineWithoutChromium()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var output = Path.Combine(folder, "out");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output, shardSize: 128), folder)).State);

        var cli = await CliResult.RunAsync(TimeSpan.FromMinutes(4), "report", output, "--pdf");
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.EndsWith($"pdf: {Path.Combine(output, "report.pdf")}", cli.Stdout.TrimEnd());
        var pdf = Path.Combine(output, "report.pdf");
        var pages = AssertA4(pdf);
        Assert.True(pages > 1, $"{pages} page(s)");

        for (var page = 1; page <= pages; page++)
        {
            var lines = Text(pdf, page).Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
            // The foot of the page is its number; no header of Chromium's own (the page's title, its date, its file) tops it.
            Assert.Equal($"page {page} of {pages}", lines[^1]);
            Assert.DoesNotContain("ExplainCluster report", lines[0]);
            Assert.DoesNotContain("file:", lines[0]);
            // A row of the per-class table (a class name, then numbers) is never on a page without the table's header.
            if (lines.Any(l => Classes.Any(c => Regex.IsMatch(l, $"^{Regex.Escape(c)}\\s+\\d+\\s+\\d"))))
                Assert.Contains(lines, l => l.Contains("support", StringComparison.Ordinal) && l.Contains("recall", StringComparison.Ordinal));
        }
        // No link or metadata holds a path of this machine (report.html's own text is the document helper's to keep clean).
        var bytes = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(pdf));
        Assert.DoesNotContain("file:", bytes);
        Assert.DoesNotContain(TestPaths.Root, Run("pdfinfo", pdf));

        // Every picture has alt text that states numbers, not its caption again.
        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        var figures = FigureMarkup().Matches(html);
        Assert.NotEmpty(figures);
        Assert.Equal(ImageTag().Count(html), figures.Count);
        Assert.All(figures, f =>
        {
            Assert.Matches("[0-9]", f.Groups["alt"].Value);
            Assert.NotEqual(f.Groups["caption"].Value, f.Groups["alt"].Value);
        });
        Assert.Contains(figures, f => ConfusionAlt().IsMatch(f.Groups["alt"].Value));

        // Without Chromium on PATH: one line naming what is missing, exit 1, and no PDF.
        File.Delete(pdf);
        var empty = Directory.CreateDirectory(Path.Combine(folder, "empty-path")).FullName;
        var without = await CliResult.RunAsync(TimeSpan.FromMinutes(2),
            new Dictionary<string, string> { ["PATH"] = empty, ["DOTNET_ROOT"] = Path.GetDirectoryName(Environment.ProcessPath)! }, "report", output, "--pdf");
        Assert.Equal(1, without.ExitCode);
        Assert.Equal("error: --pdf needs Chromium to print the report, and none of chromium, chromium-browser, google-chrome, google-chrome-stable is on PATH (Debian: apt-get install chromium)",
            without.Stderr.TrimEnd());
        Assert.False(File.Exists(pdf));
    }

    [Fact]
    public async Task ReportPdf_TableLongerThanAPage_RepeatsItsHeaderOnEveryPage()
    {
        var output = TestPaths.NewFolder();
        var rows = string.Concat(Enumerable.Range(0, 150).Select(i => $"<tr><td>row-{i:D3}</td><td>{i * 7}</td></tr>"));
        var html = ReportHtml.Document("long table", new ReportText(null, "<h1>long table</h1>"),
            [("A chapter", [new ReportText("A table", $"<table><thead><tr><th scope=\"col\">HEADNAME</th><th scope=\"col\">value</th></tr></thead>{rows}</table>")])],
            new Dictionary<FigureGroup, byte[][]>());
        await File.WriteAllTextAsync(Path.Combine(output, "report.html"), html);

        await new ReportPdf(new BlobLocator(null)).WriteAsync(output);

        var pdf = Path.Combine(output, "report.pdf");
        var pages = AssertA4(pdf);
        Assert.True(pages >= 3, $"{pages} page(s)");
        var seen = new List<string>();
        for (var page = 1; page <= pages; page++)
        {
            var text = Text(pdf, page);
            var onPage = RowName().Matches(text).Select(m => m.Value).ToArray();
            if (onPage.Length > 0) Assert.Contains("HEADNAME", text);
            Assert.Contains($"page {page} of {pages}", text);
            seen.AddRange(onPage);
        }
        Assert.Equal(Enumerable.Range(0, 150).Select(i => $"row-{i:D3}"), seen); // every row once, in order
        Assert.DoesNotContain(output, Text(pdf, null));
    }

    /// <returns>The PDF's page count, having checked that its pages are A4.</returns>
    private static int AssertA4(string pdf)
    {
        var info = Run("pdfinfo", pdf);
        Assert.Matches(@"Page size:\s+59[45](\.\d+)? x 84[12](\.\d+)? pts \(A4\)", info);
        return int.Parse(PageCount().Match(info).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>pdftotext -layout of one page, or of all with null.</summary>
    private static string Text(string pdf, int? page) =>
        page is { } p ? Run("pdftotext", "-layout", "-f", $"{p}", "-l", $"{p}", pdf, "-") : Run("pdftotext", "-layout", pdf, "-");

    /// <summary>A poppler-utils tool's stdout (tools/test.sh installs them).</summary>
    private static string Run(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} failed: {process.StandardError.ReadToEnd()}");
        return stdout;
    }

    [GeneratedRegex("<figure><img alt=\"(?<alt>[^\"]*)\" src=\"data:image/png;base64,[^\"]*\"><figcaption>(?<caption>.*?)</figcaption></figure>")]
    private static partial Regex FigureMarkup();

    [GeneratedRegex("<img ")]
    private static partial Regex ImageTag();

    [GeneratedRegex(@"^Confusion matrix, 10 classes, 300 samples, \d+ on the diagonal \(\d+\.\d %\); largest off-diagonal: .+→.+ \d+\.$")]
    private static partial Regex ConfusionAlt();

    [GeneratedRegex(@"row-\d{3}")]
    private static partial Regex RowName();

    [GeneratedRegex(@"Pages:\s+(\d+)")]
    private static partial Regex PageCount();
}
