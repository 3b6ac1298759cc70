using System.Diagnostics;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// OUT/report.pdf, printed from OUT/report.html by headless Chromium (the Debian package chromium) with the report's print
/// style: A4, numbered pages, no header or footer of Chromium's own (which would show the file's path). The page is copied
/// to a temporary folder first, so a report in blob storage prints the same way, and nothing of the machine's paths reaches
/// the PDF (the report's pictures are inline; its only links are to its own sections).
/// </summary>
public sealed class ReportPdf(BlobLocator locator)
{
    /// <summary>How long Chromium may take to print; a report of a few hundred figures prints in seconds.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    /// <summary>The browsers tried, in order, on PATH.</summary>
    private static readonly string[] Browsers = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];

    /// <returns>Where the PDF was written.</returns>
    public async Task<string> WriteAsync(string outputLocation, CancellationToken ct = default)
    {
        var output = locator.Resolve(outputLocation);
        var html = output.Child(OutputLayout.Report);
        if (!await html.ExistsAsync(ct)) throw new ExplainException($"{html.Location} does not exist; is this a job's output?");
        var browser = FindBrowser() ?? throw new ExplainException(
            $"--pdf needs Chromium to print the report, and none of {string.Join(", ", Browsers)} is on PATH (Debian: apt-get install chromium)");
        var folder = Directory.CreateTempSubdirectory("explain-pdf-");
        try
        {
            var page = Path.Combine(folder.FullName, OutputLayout.Report);
            var pdf = Path.Combine(folder.FullName, OutputLayout.Pdf);
            await using (var source = await html.OpenReadAsync(ct))
            await using (var copy = File.Create(page))
                await source.CopyToAsync(copy, ct);
            await PrintAsync(browser, folder.FullName, page, pdf, ct);
            var target = output.Child(OutputLayout.Pdf);
            await target.WriteAsync(await File.ReadAllBytesAsync(pdf, ct), ct);
            return target.Location;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The first of <see cref="Browsers"/> found on PATH, or null.</summary>
    public static string? FindBrowser() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .SelectMany(dir => Browsers.Select(name => Path.Combine(dir, name)))
            .FirstOrDefault(File.Exists);

    /// <summary>Runs Chromium once, with its own profile in <paramref name="folder"/>; an <see cref="ExplainException"/> if it fails or outlasts <see cref="Timeout"/>.</summary>
    private static async Task PrintAsync(string browser, string folder, string page, string pdf, CancellationToken ct)
    {
        var start = new ProcessStartInfo(browser)
        {
            ArgumentList =
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                $"--user-data-dir={Path.Combine(folder, "profile")}", $"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                new Uri(page).AbsoluteUri,
            },
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
        };
        using var process = Process.Start(start) ?? throw new ExplainException($"{browser} did not start");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(Timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            ct.ThrowIfCancellationRequested();
            throw new ExplainException($"{browser} did not print the report within {Timeout.TotalSeconds:F0} s");
        }
        await Task.WhenAll(stdout, stderr);
        if (process.ExitCode != 0 || !File.Exists(pdf))
            throw new ExplainException($"{browser} could not print the report (exit {process.ExitCode}): {(await stderr).Trim().Split('\n')[^1]}");
    }
}
