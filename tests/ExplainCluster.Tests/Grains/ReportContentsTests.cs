using System.Net;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The report made from its sections: its list of contents names exactly the sections that drew something, in the
/// report's order (every section's text, then every section's figures), each entry linked to the one anchor before its
/// heading; for a job with only map methods, one with several features, and each made again without the job's inputs
/// (the sample sections then draw nothing and leave neither heading nor entry).
/// </summary>
public partial class ReportContentsTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Contents_MapMethodsOnly_NamesTheirSectionsInOrder_AndNoSamplesWithoutInputs()
    {
        var output = await RunAsync((images, labels, into) => TestPaths.FashionJob(images, labels, into, shardSize: 64));
        string[] maps = ["Class-mean saliency", "Class-mean grad-x-input", "Class-mean grad-cam"];

        AssertContents(output, ["Error analysis", "Methods", "Error analysis: plots", .. maps, "Highest-loss samples"]);
        await RemakeWithoutInputsAsync(output);
        AssertContents(output, ["Error analysis", "Methods", "Error analysis: plots", .. maps]);
    }

    [Fact]
    public async Task Contents_WithFeatures_NamesEachFeaturesTextThenItsFigures_AndNoSamplesWithoutInputs()
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
        string[] text = ["Error analysis", "Methods", "Faithfulness", "Sanity check: model randomisation", "Verdicts", "Per-sample parameter gradients", "Weights"];
        string[] maps = ["Error analysis: plots", "Class-mean saliency", "Class-mean grad-cam"]; // param-grads' norms are not drawn as maps
        const string HighestLoss = "Highest-loss samples", ParamGrads = "Per-sample parameter gradients: plots", Largest = "Largest parameter gradients (candidate label errors)";
        string[] checks = ["Faithfulness curves", "Sanity check: curves", "Sanity check: one sample along the cascade", "Weights: the first convolution's filters"];

        AssertContents(output, [.. text, .. maps, HighestLoss, ParamGrads, Largest, .. checks]);
        await RemakeWithoutInputsAsync(output);
        AssertContents(output, [.. text, .. maps, ParamGrads, .. checks]);
    }

    [Fact]
    public void Document_TitlesWithMarkup_AreEscapedOnce_AndUntitledTextPrecedesTheContents()
    {
        var html = ReportHtml.Document("a <job>",
            [new ReportText(null, "<h1>top</h1>"), new ReportText("A & B", "<p>text</p>")],
            [(new FigureGroup("<plots>", [new Figure("f", "x < y", () => [])]), [[1, 2, 3]])]);

        Assert.Contains("<title>a &lt;job&gt; — ExplainCluster report</title>", html);
        Assert.Contains("<body><h1>top</h1><nav><h3>Contents</h3><ol><li><a href=\"#section-1\">A &amp; B</a></li>"
            + "<li><a href=\"#section-2\">&lt;plots&gt;</a></li></ol></nav><a id=\"section-1\"></a><h2>A &amp; B</h2><p>text</p>"
            + "<a id=\"section-2\"></a><h2>&lt;plots&gt;</h2><figure><img alt=\"x &lt; y\" src=\"data:image/png;base64,AQID\"><figcaption>x &lt; y</figcaption></figure></body>", html);
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
}
