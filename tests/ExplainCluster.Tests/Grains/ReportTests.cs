using System.Text.RegularExpressions;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>The report a job writes: what it shows, that its pictures are the plot files, and that it can be made again.</summary>
public partial class ReportTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private static readonly string[] Methods = ["saliency", "grad-x-input", "grad-cam"];

    [Fact]
    public async Task Report_ShowsTheSummaryAndInlinesEveryPlotFile()
    {
        var (output, status) = await RunAsync(300);
        Assert.Equal(JobState.Completed, status.State);
        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var errors = summary.RootElement.GetProperty("errorAnalysis");

        // Self-contained: every picture is inline, and the inline pictures are exactly the PNG files in plots/.
        Assert.DoesNotMatch("src=\"(?!data:image/png;base64,)", html);
        var inline = InlinePng().Matches(html).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToArray();
        var files = Directory.GetFiles(Path.Combine(output, "plots"), "*.png")
            .Select(f => Convert.ToBase64String(File.ReadAllBytes(f))).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(files, inline);
        Assert.All(files, f => Assert.StartsWith("iVBORw0KGgo", f)); // the PNG signature

        // What the issue lists: error analysis plots, one grid of class-mean maps per method with every class present,
        // and every listed highest-loss sample, each one figure (its input and one map per method) naming its shard part and row.
        var present = errors.GetProperty("perClass").EnumerateArray().Count(c => c.GetProperty("support").GetInt64() > 0);
        foreach (var plot in new[] { "confusion-matrix", "reliability", "per-class-accuracy" })
            Assert.True(File.Exists(Path.Combine(output, "plots", plot + ".png")), plot);
        foreach (var method in Methods)
        {
            Assert.True(File.Exists(Path.Combine(output, "plots", $"class-mean-{method}.png")), method);
            Assert.Contains("alt=\"" + ReportHtml.E($"Mean {method} maps of {present} classes, "), html);
        }
        var listed = errors.GetProperty("highestLoss").EnumerateArray().ToArray();
        Assert.Equal(16, listed.Length);
        var captions = TopLossCaption().Matches(html).Select(m => long.Parse(m.Groups[1].Value)).ToArray();
        Assert.Equal(listed.Select(e => e.GetProperty("index").GetInt64()), captions);
        Assert.Equal(listed.Length, Directory.GetFiles(Path.Combine(output, "plots"), "top-loss-*.png").Length);
        foreach (var e in listed)
            Assert.Contains($"shard {e.GetProperty("shard").GetInt32()}, row {e.GetProperty("row").GetInt32()} of samples/part-{e.GetProperty("shard").GetInt32():D5}.parquet", html);

        // The accuracy with its Wilson interval, as summary.json has them.
        var accuracy = errors.GetProperty("accuracyInterval");
        Assert.Equal(errors.GetProperty("accuracy").GetDouble(), accuracy.GetProperty("value").GetDouble());
        string Percent(string name) => (100 * accuracy.GetProperty(name).GetDouble()).ToString("F2", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"Accuracy <b>{Percent("value")} % ({Percent("low")}–{Percent("high")} %)</b>", html);
        // The job renders its report before it marks the manifest completed, so the report states no status.
        Assert.DoesNotContain("running", html);
    }

    [Fact]
    public async Task Report_MadeAgainFromTheOutputs_IsTheSame()
    {
        var (output, status) = await RunAsync(200);
        Assert.Equal(JobState.Completed, status.State);
        var first = await File.ReadAllBytesAsync(Path.Combine(output, "report.html"));
        File.Delete(Path.Combine(output, "report.html"));
        Directory.Delete(Path.Combine(output, "plots"), recursive: true);

        await new ReportWriter(new BlobLocator(null)).WriteAsync(output);

        Assert.Equal(first, await File.ReadAllBytesAsync(Path.Combine(output, "report.html")));
    }

    [Fact]
    public async Task Report_RenderedByHeadlessChromium_ShowsItsPlots()
    {
        var (output, status) = await RunAsync(300);
        Assert.Equal(JobState.Completed, status.State);
        var shot = Path.Combine(output, "screenshot.png");
        var chromium = new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("chromium is not installed (Debian package chromium; tools/test.sh installs it)");
        var start = new System.Diagnostics.ProcessStartInfo(chromium)
        {
            ArgumentList = { "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", $"--screenshot={shot}", "--window-size=1280,6000", new Uri(Path.Combine(output, "report.html")).AbsoluteUri },
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            Assert.True(File.Exists(shot), $"chromium wrote no screenshot: {await stderr}");
        }

        // What a reader sees: a page of text and tables, and the plots, whose colour maps (viridis, the heatmap
        // overlays) are the only strongly coloured pixels on it. A report whose pictures did not load has none.
        using var bitmap = SkiaSharp.SKBitmap.Decode(shot);
        Assert.Equal(1280, bitmap.Width);
        long ink = 0, colour = 0;
        foreach (var p in bitmap.Pixels)
        {
            if (p.Red + p.Green + p.Blue < 720) ink++;
            if (Math.Max(p.Red, Math.Max(p.Green, p.Blue)) - Math.Min(p.Red, Math.Min(p.Green, p.Blue)) > 80) colour++;
        }
        Assert.True(ink > bitmap.Pixels.Length / 20, $"only {ink} of {bitmap.Pixels.Length} pixels are not white");
        Assert.True(colour > 100_000, $"only {colour} strongly coloured pixels: the plots did not render");
    }

    private async Task<(string Output, JobStatus Status)> RunAsync(int samples)
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, samples);
        var output = Path.Combine(folder, "out");
        return (output, await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output, shardSize: 128), folder));
    }

    [GeneratedRegex("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"")]
    private static partial Regex InlinePng();

    [GeneratedRegex("<figcaption>#(\\d+): ")]
    private static partial Regex TopLossCaption();
}
