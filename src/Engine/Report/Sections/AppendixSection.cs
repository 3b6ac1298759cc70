using System.Globalization;
using System.Text;
using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using Parquet;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// The appendix an engineer needs to get from the report to the rows: every file the job wrote with its type and shape (read
/// from the files), every column of the samples table (read from its schema), how a sample's id leads to its shard part and
/// row, and queries in DuckDB SQL and pandas written with this job's own column, method and file names.
/// </summary>
public sealed class AppendixSection : IReportSection
{
    public async Task<IReadOnlyList<ReportPart>> PartsAsync(ReportContext report, CancellationToken ct)
    {
        var (manifest, summary) = (report.Manifest, report.Summary);
        if (manifest.Shards.Length == 0) return [];
        var first = manifest.Shards[0].Index;
        var files = new List<(string Path, string What, string Shape)>
        {
            (OutputLayout.Manifest, "what ran on what: provenance, shards and their silos, versions, seeds", "JSON"),
            (OutputLayout.Summary, "the statistics, one section per feature; names the .npy files below", "JSON"),
            (OutputLayout.Evidence, $"findings, verdicts, intervals and provenance ({EvidencePack.Schema}; docs/evidence.md)", "JSON"),
            (OutputLayout.Report, "this report, self-contained", "HTML"),
            ("plots/NAME.png", "each figure of this report as a file, named as the figure", "PNG"),
        };
        foreach (var path in await SummaryArraysAsync(report, ct))
            files.Add((path, "an array summary.json names", await ShapeAsync(report, path, ct)));
        var columns = await ColumnsAsync(report, OutputLayout.SamplesPart(first), ct);
        files.Add((Pattern(OutputLayout.SamplesPart(first), first), "one row per sample of the shard (columns below)", $"parquet, {columns.Count} columns"));
        var perShard = new List<(string Path, string What)> { (OutputLayout.LogitsPart(first), "the model's logits, rows as in the samples part") };
        foreach (var method in summary.Methods.Keys)
        {
            perShard.Add((OutputLayout.AttributionPart(method, first), $"{method}'s maps, one per sample it explained"));
            perShard.Add((OutputLayout.AttributionIndex(method, first), $"{method}'s subset: the dataset index of each row of its part"));
        }
        perShard.Add((OutputLayout.SegmentsPart(first), "each sample's segment ids (lime, kernel-shap)"));
        perShard.Add((OutputLayout.EmbeddingPart(first), "each sample's embedding coordinates"));
        foreach (var (path, what) in perShard)
            if (await report.Output.Child(path).ExistsAsync(ct)) files.Add((Pattern(path, first), what, await ShapeAsync(report, path, ct)));

        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder(string.Create(inv, $"<h4>Files</h4><p>Paths are relative to the job's output folder; NNNNN is a shard's index, five digits (shapes shown for shard {first}).</p>"))
            .Append("<table><tr><th class=\"l\">file</th><th class=\"l\">what it holds</th><th class=\"l\">type and shape</th></tr>");
        foreach (var (path, what, shape) in files)
            html.Append("<tr><td class=\"l\"><code>").Append(E(path)).Append("</code></td><td class=\"l\">").Append(E(what)).Append("</td><td class=\"l\">").Append(E(shape)).Append("</td></tr>");
        html.Append("</table><h4>Columns of samples/part-NNNNN.parquet</h4><table><tr><th class=\"l\">column</th><th class=\"l\">type</th><th class=\"l\">meaning</th></tr>");
        foreach (var (name, type) in columns)
            html.Append("<tr><td class=\"l\"><code>").Append(E(name)).Append("</code></td><td class=\"l\">").Append(E(type)).Append("</td><td class=\"l\">")
                .Append(E(Meaning(name, summary.Methods.Keys))).Append("</td></tr>");
        html.Append("</table>");
        Lookup(html, report);
        Recipes(html, report, columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal));
        return [new ReportText(null, html.ToString())];
    }

    /// <summary>How a sample id leads to its shard and row, with the first highest-loss sample as the worked example.</summary>
    private static void Lookup(StringBuilder html, ReportContext report)
    {
        var (manifest, inv) = (report.Manifest, CultureInfo.InvariantCulture);
        var regular = manifest.Shards.Select((s, i) => s.Start == (long)i * manifest.ShardSize).All(x => x)
            && manifest.Shards.SkipLast(1).All(s => s.Count == manifest.ShardSize);
        html.Append("<h4>From a sample id to its rows</h4><p>A sample's id is its position in the dataset (column <code>index</code>). ")
            .Append(regular
                ? string.Create(inv, $"Shards hold {manifest.ShardSize} samples each, so sample i is in shard s = ⌊i / {manifest.ShardSize}⌋ at row r = i − s · {manifest.ShardSize}. ")
                : "Its shard is the one whose range (manifest.json, <code>shards</code>: start, count) holds it, at row r = i − start. ")
            .Append("Row r of samples/part-s, logits/part-s and attributions/METHOD/part-s is that sample; for a method that explained a subset, its row is instead ")
            .Append("the position of i in attributions/METHOD/index-s.npy (absent: the method did not explain it).</p>");
        if (report.Summary.ErrorAnalysis?.HighestLoss.FirstOrDefault() is { } top)
            html.Append(string.Create(inv, $"<p>Example: the highest-loss sample, #{top.Index}, is row {top.Row} of shard {top.Shard}: "))
                .Append("<code>").Append(E(OutputLayout.SamplesPart(top.Shard))).Append("</code>, <code>").Append(E(OutputLayout.LogitsPart(top.Shard))).Append("</code>.</p>");
    }

    /// <summary>Queries written with this job's names: they run as they stand in the output folder.</summary>
    private static void Recipes(StringBuilder html, ReportContext report, IReadOnlySet<string> columns)
    {
        var summary = report.Summary;
        var order = columns.Contains("loss") && report.Labelled ? "loss" : "confidence";
        var filter = columns.Contains("correct") && report.Labelled ? "WHERE correct = false " : "";
        var method = summary.Methods.Keys.FirstOrDefault(m => columns.Contains(OutputLayout.Column(m) + "_mean_abs"));
        var sql = new StringBuilder($"-- the ten samples with the highest {order}\nSELECT \"index\", prediction, confidence{(order == "loss" ? ", label, loss" : "")}\n")
            .Append($"FROM read_parquet('samples/part-*.parquet') {filter}ORDER BY {order} DESC LIMIT 10;\n");
        if (method is not null)
            sql.Append($"-- mean |attribution| of {method} per predicted class\nSELECT prediction, avg({OutputLayout.Column(method)}_mean_abs) AS mean_abs, count(*) AS n\n")
                .Append("FROM read_parquet('samples/part-*.parquet') GROUP BY prediction ORDER BY prediction;\n");
        var map = summary.Methods.Keys.FirstOrDefault() ?? "METHOD";
        var pandas = new StringBuilder("import glob\nimport json\nimport numpy as np\nimport pandas as pd\n\n")
            .Append("samples = pd.concat(pd.read_parquet(p) for p in sorted(glob.glob('samples/part-*.parquet'))).set_index('index')\n")
            .Append("shards = {s['index']: (s['start'], s['count']) for s in json.load(open('manifest.json'))['shards']}\n")
            .Append("def rows(i):\n    s = next(k for k, (start, count) in shards.items() if start <= i < start + count)\n    return s, i - shards[s][0]\n\n")
            .Append("i = int(samples.index[0])\ns, r = rows(i)\n")
            .Append($"logits = np.load(f'logits/part-{{s:05d}}.npy', mmap_mode='r')[r]\n")
            .Append($"attribution = np.load(f'attributions/{map}/part-{{s:05d}}.npy', mmap_mode='r')[r]  # a subset method: r = position of i in index-{{s:05d}}.npy\n");
        html.Append("<h4>Queries</h4><p>DuckDB, run in the output folder:</p><pre>").Append(E(sql.ToString())).Append("</pre>")
            .Append("<p>pandas and NumPy, run in the output folder:</p><pre>").Append(E(pandas.ToString())).Append("</pre>");
    }

    private static string Meaning(string column, IEnumerable<string> methods)
    {
        switch (column)
        {
            case "index": return "the sample's position in the dataset: its id";
            case "label": return "its label (null without labels)";
            case "prediction": return "the predicted class (argmax of the logits)";
            case "confidence": return "the predicted class's softmax probability";
            case "loss": return "cross-entropy against the label (null without labels)";
            case "correct": return "prediction = label (null without labels)";
            case "knn_agreement": return "share of its nearest neighbours in the embedding that share its label";
            case "param_grad_norm": return "the L2 norm of the sample's whole parameter gradient (param-grads)";
        }
        if (column.StartsWith("embedding_", StringComparison.Ordinal)) return "its embedding coordinate on that principal component";
        foreach (var method in methods.OrderByDescending(m => m.Length))
        {
            var prefix = OutputLayout.Column(method) + "_";
            if (!column.StartsWith(prefix, StringComparison.Ordinal)) continue;
            return column[prefix.Length..] switch
            {
                "mean_abs" => $"mean |attribution| of {method}'s map (null outside its subset)",
                "max" => $"largest value of {method}'s map (null outside its subset)",
                "deletion_auc" => $"area under {method}'s deletion curve (lower: more faithful)",
                "insertion_auc" => $"area under {method}'s insertion curve (higher: more faithful)",
                _ => $"written by {method} (see the README's Methods)",
            };
        }
        return column.StartsWith("random_", StringComparison.Ordinal) ? "the random ordering's faithfulness, the reference" : "see the README's Output layout";
    }

    /// <summary>Every .npy path summary.json names, in its order.</summary>
    private static async Task<IReadOnlyList<string>> SummaryArraysAsync(ReportContext report, CancellationToken ct)
    {
        await using var stream = await report.Output.Child(OutputLayout.Summary).OpenReadAsync(ct);
        using var json = await JsonDocument.ParseAsync(stream, cancellationToken: ct);
        var paths = new List<string>();
        void Walk(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object: foreach (var p in e.EnumerateObject()) Walk(p.Value); break;
                case JsonValueKind.Array: foreach (var x in e.EnumerateArray()) Walk(x); break;
                case JsonValueKind.String when e.GetString() is { } s && s.EndsWith(".npy", StringComparison.Ordinal) && !paths.Contains(s): paths.Add(s); break;
            }
        }
        Walk(json.RootElement);
        return paths;
    }

    private static async Task<string> ShapeAsync(ReportContext report, string path, CancellationToken ct)
    {
        // The first shard's part of a method with a subset may hold none of its rows: its shape is still the files' shape.
        var header = (await report.OpenAsync(path, ct, allowEmpty: true)).Header;
        return $"{header.Type.ToString().ToLowerInvariant()} {header.ShapeText}";
    }

    private static async Task<IReadOnlyList<(string Name, string Type)>> ColumnsAsync(ReportContext report, string path, CancellationToken ct)
    {
        using var bytes = new MemoryStream();
        await using (var stream = await report.Output.Child(path).OpenReadAsync(ct)) await stream.CopyToAsync(bytes, ct);
        bytes.Position = 0;
        await using var reader = await ParquetReader.CreateAsync(bytes, cancellationToken: ct);
        return [.. reader.Schema.GetDataFields().Select(f => (f.Name, f.ClrType.Name.ToLowerInvariant() switch
        {
            "int64" => "int64", "int32" => "int32", "single" => "float32", "double" => "float64", "boolean" => "bool", var other => other,
        } + (f.IsNullable ? ", nullable" : "")))];
    }

    /// <summary>A shard file's path with its five-digit shard number as NNNNN.</summary>
    private static string Pattern(string path, int shard) => path.Replace(shard.ToString("D5", CultureInfo.InvariantCulture), "NNNNN", StringComparison.Ordinal);
}
