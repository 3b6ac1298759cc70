using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The report made from its chapters: its list of contents names exactly the chapters that hold something, in model-card
/// order, each entry linked to the one anchor before its heading; inside a chapter each section's text is followed by its
/// own figures, and no topic appears twice. For a job with only map methods, one with several features, and each made
/// again without the job's inputs (the sample figures are then left out, their chapter stays).
/// </summary>
public partial class ReportContentsTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Contents_MapMethodsOnly_NamesTheChaptersInOrder_EachTopicOnce()
    {
        var output = await RunAsync((images, labels, into) => TestPaths.FashionJob(images, labels, into, shardSize: 64));
        string[] chapters = ["Summary", "Scope and provenance", "Performance", "Explanations", "Limitations", "Appendix: the output files"];
        string[] explanations = ["Methods that ran", "saliency", "Class-mean saliency", "grad-x-input", "Class-mean grad-x-input", "grad-cam", "Class-mean grad-cam"];

        AssertContents(output, chapters);
        AssertParts(output, "Performance", ["Error analysis", "Calibration bins", "Most confused pairs", "Error analysis: plots", "Highest-loss samples"]);
        AssertParts(output, "Explanations", explanations);
        await RemakeWithoutInputsAsync(output);
        AssertContents(output, chapters);
        AssertParts(output, "Performance", ["Error analysis", "Calibration bins", "Most confused pairs", "Error analysis: plots"]);
        AssertParts(output, "Explanations", explanations);
    }

    [Fact]
    public async Task Contents_WithFeatures_EachSectionsTextThenItsFigures_InItsChapter()
    {
        var output = await RunAsync((images, labels, into) => $$"""
            {
              "model": { "uri": "{{TestPaths.Sample("model.pt")}}" },
              "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
              "methods": { "saliency": {}, "grad-cam": { "layer": "10" }, "param-grads": { "projection": { "dims": 8, "seed": 1 } } },
              "faithfulness": { "steps": 4 },
              "sanity": { "samples": 12, "methods": ["saliency"] },
              "views": { "weights": {} },
              "shardSize": 64,
              "output": "{{into}}"
            }
            """);
        string[] chapters = ["Summary", "Scope and provenance", "Performance", "Explanations", "Trust", "Global views", "Limitations", "Appendix: the output files"];
        // param-grads' norms are not drawn as maps; the projection is written as a method of its own. Sections' own
        // sub-headings (the most confused pairs, per target class) are headings of the same level as the parts.
        string[] explanations = ["Methods that ran", "saliency", "Class-mean saliency", "grad-cam", "Class-mean grad-cam", "param-grads", "param-grads-projected"];
        string[] trust = ["Verdicts", "Faithfulness", "Faithfulness curves", "Sanity check: model randomisation", "Sanity check: curves", "Sanity check: one sample along the cascade"];
        string[] views = ["Weights", "Weights: the first convolution's filters", "Per-sample parameter gradients", "Per target class", "Per-sample parameter gradients: plots"];
        const string Largest = "Largest parameter gradients (candidate label errors)";

        AssertContents(output, chapters);
        AssertParts(output, "Explanations", explanations);
        AssertParts(output, "Trust", trust);
        AssertParts(output, "Global views", [.. views, Largest]);
        await RemakeWithoutInputsAsync(output);
        AssertContents(output, chapters);
        AssertParts(output, "Global views", views);
    }

    [Fact]
    public void Document_TitlesWithMarkup_AreEscapedOnce_AndTheHeaderPrecedesTheContents()
    {
        var group = new FigureGroup("<plots>", [new Figure("f", "x < y", () => [])]);
        var html = ReportHtml.Document("a <job>", new ReportText(null, "<h1>top</h1>"),
            [("A & B", [new ReportText("t", "<p>text</p>"), group]), ("C", [new ReportText(null, "<p>c</p>")])],
            new Dictionary<FigureGroup, byte[][]>(ReferenceEqualityComparer.Instance) { [group] = [[1, 2, 3]] });

        Assert.Contains("<title>a &lt;job&gt; — ExplainCluster report</title>", html);
        Assert.EndsWith("<body><h1>top</h1><nav><h3>Contents</h3><ol><li><a href=\"#section-1\">A &amp; B</a></li>"
            + "<li><a href=\"#section-2\">C</a></li></ol></nav><a id=\"section-1\"></a><h2>A &amp; B</h2><h3>t</h3><p>text</p>"
            + "<h3>&lt;plots&gt;</h3><figure><img alt=\"x &lt; y\" src=\"data:image/png;base64,AQID\"><figcaption>x &lt; y</figcaption></figure>"
            + "<a id=\"section-2\"></a><h2>C</h2><p>c</p></body></html>", html);
    }

    /// <summary>Runs the job that <paramref name="job"/> writes (from images, labels and output) on 100 Fashion-MNIST samples; returns its output.</summary>
    private async Task<string> RunAsync(Func<string, string, string, string> job)
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 100);
        var output = Path.Combine(folder, "out");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, job(images, labels, output), folder)).State);
        return output;
    }

    /// <summary>
    /// The report's contents are <paramref name="expected"/> (plain titles), in order; its headings are the same titles in
    /// the same order, each right after the anchor its entry links to; no other heading, no anchor twice; the list sits
    /// between the title and the first heading.
    /// </summary>
    private static void AssertContents(string output, string[] expected)
    {
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        var nav = Assert.Single(Nav().Matches(html));
        var entries = Entry().Matches(nav.Groups[1].Value).Select(m => (Id: m.Groups[1].Value, Title: m.Groups[2].Value)).ToArray();
        Assert.Equal(expected.Select(WebUtility.HtmlEncode), entries.Select(e => e.Title));

        var headings = Heading().Matches(html).Select(m => (Id: m.Groups[1].Value, Title: m.Groups[2].Value)).ToArray();
        Assert.Equal(entries, headings);
        Assert.Equal(headings.Length, Regex.Count(html, "<h2>"));
        Assert.Equal(headings.Length, headings.Select(h => h.Id).Distinct().Count());
        Assert.All(headings, h => Assert.Equal(1, Regex.Count(html, $"id=\"{h.Id}\"")));
        Assert.True(html.IndexOf("</h1>", StringComparison.Ordinal) < nav.Index && nav.Index < html.IndexOf("<h2>", StringComparison.Ordinal));
    }

    /// <summary>
    /// The titled parts (&lt;h3&gt;) of <paramref name="chapter"/> are <paramref name="expected"/>, in order; and no part's title
    /// appears twice in the whole report (a topic is in one chapter only, its text and its figures together).
    /// </summary>
    private static void AssertParts(string output, string chapter, string[] expected)
    {
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        var chapters = Chapter().Matches(html).ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.Equal(expected.Select(WebUtility.HtmlEncode), Part().Matches(chapters[WebUtility.HtmlEncode(chapter)]).Select(m => m.Groups[1].Value));
        var all = Part().Matches(html[html.IndexOf("</nav>", StringComparison.Ordinal)..]).Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(all.Length, all.Distinct().Count());
    }

    /// <summary>Marks the inputs in manifest.json redacted (as a job on SAS-signed inputs writes it) and makes the report again.</summary>
    private static async Task RemakeWithoutInputsAsync(string output)
    {
        var path = Path.Combine(output, "manifest.json");
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(path))!;
        manifest["inputs"] = manifest["inputs"]!.GetValue<string>() + "?" + Redaction.Marker;
        await File.WriteAllTextAsync(path, manifest.ToJsonString());
        File.Delete(Path.Combine(output, "report.html"));
        await new ReportWriter(new BlobLocator(null)).WriteAsync(output);
    }

    [GeneratedRegex("<nav><h3>Contents</h3><ol>(.*?)</ol></nav>")]
    private static partial Regex Nav();

    [GeneratedRegex("<li><a href=\"#([^\"]+)\">(.*?)</a></li>")]
    private static partial Regex Entry();

    [GeneratedRegex("<a id=\"([^\"]+)\"></a><h2>(.*?)</h2>")]
    private static partial Regex Heading();

    /// <summary>A chapter: its title and everything up to the next chapter or the end of the page.</summary>
    [GeneratedRegex("<h2>(.*?)</h2>(.*?)(?=<a id=\"section-|</body>)", RegexOptions.Singleline)]
    private static partial Regex Chapter();

    [GeneratedRegex("<h3>(.*?)</h3>")]
    private static partial Regex Part();
}
