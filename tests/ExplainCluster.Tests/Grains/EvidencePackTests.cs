using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// The evidence pack of one small job whose job file names its files relative to itself: report.html and evidence.json
/// name no absolute path of the machine; the provenance the report shows is manifest.json's, with the model's parameter
/// count as its architecture gives it by hand; evidence.json has exactly the fields docs/evidence.md documents and
/// summary.json's verdicts; and the findings name the classes the samples' rows give.
/// </summary>
public partial class EvidencePackTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private static readonly string[] Classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static (string Folder, string Output)? _job;

    [Fact]
    public async Task ReportAndEvidence_NameNoAbsolutePathOfTheMachine()
    {
        var (folder, output) = await JobAsync();
        string[] forbidden = [folder, Path.GetTempPath(), RepositoryRoot(), AppContext.BaseDirectory.TrimEnd('/'), Environment.GetFolderPath(Environment.SpecialFolder.UserProfile)];

        foreach (var file in new[] { "report.html", "evidence.json" })
        {
            var text = Images().Replace(await File.ReadAllTextAsync(Path.Combine(output, file)), ""); // base64 may spell anything
            Assert.All(forbidden.Where(p => p.Length > 1), p => Assert.DoesNotContain(p, text));
        }
        // The locations as the job file gave them instead.
        var provenance = await ProvenanceAsync(output);
        Assert.Equal("model.pt", provenance["file"]);
        Assert.Equal("images.npy", provenance["inputs"]);
        Assert.Equal("labels.npy", provenance["labels"]);
        Assert.Equal("out", provenance["output"]);
    }

    [Fact]
    public async Task Tables_EachHasACaptionAndScopedHeaders()
    {
        var (_, output) = await JobAsync();
        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        var tables = Tables().Matches(html);
        Assert.True(tables.Count >= 8, $"{tables.Count} tables");
        Assert.All(tables, t =>
        {
            Assert.Matches("^<table><caption( class=\"sr\")?>[^<]+", t.Value); // named, and not empty
            // Column headers a reader can follow, or (a table of names and values) a header starting every row.
            var rows = Regex.Matches(t.Value, "<tr>").Count;
            Assert.True(t.Value.Contains("<thead><tr><th scope=\"col\"", StringComparison.Ordinal) || Regex.Matches(t.Value, "<tr><th scope=\"row\"").Count == rows, t.Value[..Math.Min(300, t.Value.Length)]);
            Assert.DoesNotContain("<th>", t.Value);                      // none left without a scope
        });
        // The provenance tables take their captions from the headings above them, for screen readers only (the heading shows).
        Assert.Contains("<h4>Model</h4><table><caption class=\"sr\">Model</caption>", html);
        Assert.Contains("<h4>Data</h4><table><caption class=\"sr\">Data</caption>", html);
    }

    [Fact]
    public async Task Provenance_IsTheManifests_WithTheModelsRealParameterCount()
    {
        var (_, output) = await JobAsync();
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "manifest.json")))!;
        var provenance = await ProvenanceAsync(output);

        // samples/fashion-mnist/model.pt (tools/make_models.py): Conv2d(1,16,3) 16·9+16, BatchNorm2d(16) 2·16, Conv2d(16,32,3)
        // 32·16·9+32, BatchNorm2d(32) 2·32, Conv2d(32,128,3) 128·32·9+128, BatchNorm2d(128) 2·128, Linear(128,10) 128·10+10.
        const long Parameters = 160 + 32 + 4640 + 64 + 36992 + 256 + 1290;
        var architecture = manifest["architecture"]!;
        Assert.Equal(Parameters, architecture["parameters"]!.GetValue<long>());
        var layers = architecture["layers"]!.AsArray().Select(l => (Name: l!["name"]!.GetValue<string>(), Type: l["type"]!.GetValue<string>(), Parameters: l["parameters"]!.GetValue<long>())).ToArray();
        Assert.Equal(Parameters, layers.Sum(l => l.Parameters));
        Assert.Equal([("", "Sequential", 0L), ("0", "Conv2d", 160L), ("1", "BatchNorm2d", 32L), ("2", "ReLU", 0L), ("3", "MaxPool2d", 0L)], layers[..5]);
        Assert.Equal(("13", "Linear", 1290L), layers[^1]);
        Assert.Equal(15, layers.Length);

        Assert.Equal(Parameters.ToString("N0", CultureInfo.InvariantCulture), provenance["parameters"]);
        Assert.Equal(manifest["modelSha256"]!.GetValue<string>(), provenance["sha256"]);
        Assert.Equal(manifest["inputsSha256"]!.GetValue<string>(), provenance["inputs sha256"]);
        Assert.Equal(manifest["labelsSha256"]!.GetValue<string>(), provenance["labels sha256"]);
        Assert.Equal(manifest["jobId"]!.GetValue<string>(), provenance["id"]);
        Assert.Equal(string.Join(", ", manifest["silos"]!.AsArray().Select(s => s!.GetValue<string>())), provenance["silos"]);
        Assert.Equal("TorchScript", provenance["format"]);
        // Every seed the job's draws use, its defaults included, and no other.
        var seeds = new Dictionary<string, long> { ["methods.smooth-grad.seed"] = 7, ["methods.smooth-grad.subset.seed"] = 3, ["faithfulness.seed"] = 0, ["sanity.seed"] = 0 };
        Assert.Equal(seeds, manifest["seeds"]!.AsObject().ToDictionary(s => s.Key, s => s.Value!.GetValue<long>()));
        Assert.Equal(string.Join(", ", seeds.Select(s => $"{s.Key} = {s.Value}")), provenance["seeds"]);
        Assert.Contains($"torchsharp {manifest["versions"]!["torchsharp"]!.GetValue<string>()}", provenance["versions"]);
    }

    [Fact]
    public async Task Evidence_HasExactlyTheDocumentedFields_AndSummarysVerdicts()
    {
        var (_, output) = await JobAsync();
        var evidence = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "evidence.json")))!;
        var summary = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "summary.json")))!;

        Assert.Equal("explaincluster.evidence/1", evidence["schema"]!.GetValue<string>());
        var documented = Documented().Matches(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "docs", "evidence.md"))).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Equal(documented.Order(StringComparer.Ordinal), Fields(evidence, "").Distinct().Order(StringComparer.Ordinal));

        Assert.True(JsonNode.DeepEquals(summary["verdicts"], evidence["verdicts"]));
        var deletion = summary["verdicts"]!["methods"]!["saliency"]!["deletion"]!;
        var interval = Assert.Single(evidence["intervals"]!.AsArray(), i => i!["path"]!.GetValue<string>() == "verdicts.methods.saliency.deletion")!;
        Assert.Equal(deletion["mean"]!.GetValue<double>(), interval["value"]!.GetValue<double>());
        Assert.Equal(deletion["low"]!.GetValue<double>(), interval["low"]!.GetValue<double>());
        Assert.Equal(deletion["count"]!.GetValue<long>(), interval["n"]!.GetValue<long>());
        Assert.Equal(summary["errorAnalysis"]!["accuracy"]!.GetValue<double>(), evidence["metrics"]!["accuracy"]!.GetValue<double>());
    }

    [Fact]
    public async Task Findings_NameTheBestAndWorstRecall_AsTheRowsGiveThem()
    {
        var (_, output) = await JobAsync();
        // Recall per class from the samples' rows (label, prediction), not from summary.json.
        var rows = await Task.WhenAll(Directory.GetFiles(Path.Combine(output, "samples"), "*.parquet").Select(ParquetRows.ReadAsync));
        var pairs = rows.SelectMany(r => r.Label.Zip(r.Prediction, (l, p) => (Label: l!.Value, Prediction: p))).ToArray();
        var recall = pairs.GroupBy(p => p.Label).Select(g => (Class: g.Key, Recall: g.Count(p => p.Prediction == g.Key) / (double)g.Count(), Support: g.Count())).ToArray();
        var worst = recall.OrderBy(r => r.Recall).ThenBy(r => r.Class).First();
        var best = recall.OrderByDescending(r => r.Recall).ThenBy(r => r.Class).First();
        var sentence = string.Create(CultureInfo.InvariantCulture,
            $"The class recognised best is {Classes[best.Class]} (recall {best.Recall:P1} of {best.Support}, 95 % interval {Wilson(best.Recall, best.Support)}); the worst is {Classes[worst.Class]} (recall {worst.Recall:P1} of {worst.Support}, 95 % interval {Wilson(worst.Recall, worst.Support)}).");

        var evidence = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(output, "evidence.json")))!;
        Assert.Contains(evidence["findings"]!.AsArray(), f => f!["topic"]!.GetValue<string>() == "recall" && f["text"]!.GetValue<string>() == sentence);
        Assert.Contains("<li>" + WebUtility.HtmlEncode(sentence) + "</li>", await File.ReadAllTextAsync(Path.Combine(output, "report.html")));
    }

    /// <summary>Wilson's 95 % score interval of a proportion p of n, as the findings write it ("54.5–60.6 %"), computed here by its formula.</summary>
    private static string Wilson(double p, int n)
    {
        const double z = 1.959963984540054;
        var centre = (p + z * z / (2 * n)) / (1 + z * z / n);
        var half = z / (1 + z * z / n) * Math.Sqrt(p * (1 - p) / n + z * z / (4.0 * n * n));
        return string.Create(CultureInfo.InvariantCulture, $"{100 * Math.Max(0, centre - half):F1}–{100 * Math.Min(1, centre + half):F1} %");
    }

    /// <summary>The job, run once for the class: its job file in its folder names the model, images, labels and output relative to itself.</summary>
    private async Task<(string Folder, string Output)> JobAsync()
    {
        await Gate.WaitAsync();
        try
        {
            if (_job is { } done) return done;
            var folder = TestPaths.NewFolder();
            await TestPaths.FashionMnistNpyAsync(folder, 120);
            File.Copy(TestPaths.Sample("model.pt"), Path.Combine(folder, "model.pt"));
            var json = $$"""
                {
                  "name": "evidence",
                  "model": { "uri": "model.pt", "classes": {{JsonSerializer.Serialize(Classes)}} },
                  "data": { "inputs": "images.npy", "labels": "labels.npy", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
                  "methods": { "saliency": {}, "smooth-grad": { "samples": 3, "seed": 7, "subset": { "perClass": 1, "seed": 3 } } },
                  "faithfulness": { "steps": 4 },
                  "sanity": { "samples": 8, "methods": ["saliency"] },
                  "shardSize": 64,
                  "output": "out"
                }
                """;
            var status = await Jobs.RunAsync(one.Grains, json, folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
            _job = (folder, Path.Combine(folder, "out"));
            return _job.Value;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>The report's provenance tables (the chapter "Scope and provenance"), row name → value, as plain text.</summary>
    private static async Task<Dictionary<string, string>> ProvenanceAsync(string output)
    {
        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        var start = html.IndexOf("<h2>Scope and provenance</h2>", StringComparison.Ordinal);
        var chapter = html[start..html.IndexOf("<a id=\"section-", start, StringComparison.Ordinal)];
        return Row().Matches(chapter).ToDictionary(m => WebUtility.HtmlDecode(m.Groups[1].Value), m => WebUtility.HtmlDecode(m.Groups[2].Value));
    }

    /// <summary>Every field path of <paramref name="node"/> as docs/evidence.md writes them (arrays as [], the objects it copies whole not entered).</summary>
    private static IEnumerable<string> Fields(JsonNode? node, string path)
    {
        if (path.Length > 0) yield return path;
        if (path is "verdicts" or "data.preprocess" or "job.seeds" or "job.versions") yield break;
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                    foreach (var field in Fields(value, path.Length == 0 ? key : $"{path}.{key}")) yield return field;
                break;
            case JsonArray a:
                foreach (var item in a.Where(i => i is JsonObject))
                    foreach (var field in Fields(item, path + "[]").Skip(1)) yield return field;
                break;
        }
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "ExplainCluster.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no ExplainCluster.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex("<table>.*?</table>", RegexOptions.Singleline)]
    private static partial Regex Tables();

    [GeneratedRegex("data:image/png;base64,[A-Za-z0-9+/=]+")]
    private static partial Regex Images();

    [GeneratedRegex("<tr><th scope=\"row\" class=\"l\">([^<]*)</th><td class=\"l\">([^<]*)</td></tr>")]
    private static partial Regex Row();

    [GeneratedRegex(@"^\| `([^`]+)` \|", RegexOptions.Multiline)]
    private static partial Regex Documented();
}
