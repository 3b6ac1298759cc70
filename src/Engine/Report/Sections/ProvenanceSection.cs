using System.Globalization;
using System.Text;
using System.Text.Json;
using ExplainCluster.Engine.Output;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// Scope and provenance: the model (its file as the job named it, hash, format, parameter count, every module), the data
/// (locations, hashes, counts, label source, preprocessing) and the job (id, dates, duration, shards, silos, seeds,
/// versions, trace), all from manifest.json. Locations are the job file's (<see cref="JobFileValues"/>), never the paths
/// the machine that ran it resolved.
/// </summary>
public sealed class ProvenanceSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var (m, inv) = (report.Manifest, CultureInfo.InvariantCulture);
        var job = m.JobFile;
        var html = new StringBuilder("<h4>Model</h4><table>");
        Row(html, "file", JobFileValues.LocationAt(job, "model", "uri") ?? JobFileValues.Location(m.Model));
        Row(html, "sha256", m.ModelSha256 ?? "not computed");
        Row(html, "format", m.Architecture?.Format ?? "TorchScript");
        Row(html, "parameters", m.Architecture is { } a ? a.Parameters.ToString("N0", inv) : "not read");
        Row(html, "classes", string.Create(inv, $"{report.Summary.Classes.Length}: {string.Join(", ", report.Summary.Classes)}"));
        html.Append("</table>");
        if (m.Architecture is { } architecture)
        {
            html.Append(string.Create(inv, $"<details><summary>Its {architecture.Layers.Length} modules (name, class, parameters held directly)</summary>"))
                .Append("<table><tr><th class=\"l\">module</th><th class=\"l\">class</th><th>parameters</th></tr>");
            foreach (var layer in architecture.Layers)
                html.Append("<tr><td class=\"l\"><code>").Append(E(layer.Name.Length == 0 ? "(model)" : layer.Name)).Append("</code></td><td class=\"l\">")
                    .Append(E(layer.Type)).Append("</td><td>").Append(layer.Parameters.ToString("N0", inv)).Append("</td></tr>");
            html.Append("</table></details>");
        }

        html.Append("<h4>Data</h4><table>");
        var kind = JobFileValues.At(job, "data", "images") is not null ? "images" : JobFileValues.At(job, "data", "manifest") is not null ? "manifest"
            : JobFileValues.At(job, "data", "tar") is not null ? "tar" : JobFileValues.At(job, "data", "table") is not null ? "table" : "inputs";
        Row(html, kind, JobFileValues.LocationAt(job, "data", kind) ?? JobFileValues.Location(m.Inputs));
        Row(html, "inputs sha256", m.InputsSha256 ?? "not computed");
        Row(html, "samples", string.Create(inv, $"{m.Samples:N0}, each [{string.Join(", ", m.SampleShape)}]"));
        if (m.Labels is not null)
        {
            Row(html, "labels", JobFileValues.LocationAt(job, "data", "labels") ?? JobFileValues.Location(m.Labels));
            Row(html, "labels sha256", m.LabelsSha256 ?? "not computed");
            Row(html, "label source", "the labels file above: one class index per sample, in the inputs' order");
        }
        else if (kind == "images" && JobFileValues.At(job, "data", "labels") is not null)
            Row(html, "label source", "the first folder under the images (as torchvision's ImageFolder): its index in the classes");
        else if (kind == "tar")
            Row(html, "label source", "each image's KEY.cls member beside it in its tar (WebDataset naming); none when the tars have none");
        else if (kind is "manifest" or "table" && JobFileValues.At(job, "data", "label") is { } column)
            Row(html, "label source", $"the {kind}'s column {column.GetRawText()}");
        else Row(html, "label source", "none: no error analysis, and every explanation is for the predicted class");
        Row(html, "explained class", m.Target == "label" ? "each sample's label" : "each sample's predicted class");
        if (kind == "table")
        {
            var features = JobFileValues.At(job, "data", "features") is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray().ToArray() : [];
            Row(html, "features", string.Create(inv, $"{features.Length} columns of the table, encoded into the model's vector of {string.Join(" × ", m.SampleShape)} as the job names each (below)"));
            if (JobFileValues.At(job, "data", "metadata") is { ValueKind: JsonValueKind.Array } metadata)
                Row(html, "metadata", "columns the model never sees, for cohorts and the error tree: " + string.Join(", ", metadata.EnumerateArray().Select(c => c.ToString())));
            html.Append("</table>");
            Encodings(html, features);
        }
        else
        {
            Row(html, "preprocessing", kind == "inputs" ? Preprocessing(JobFileValues.At(job, "data", "preprocess"))
                : "torchvision transforms, decoded with SkiaSharp as RGB (alpha dropped): "
                    + (JobFileValues.At(job, "data", "transforms") is { } transforms ? transforms.GetRawText() : "[{\"toTensor\": {}}]"));
            html.Append("</table>");
        }

        html.Append("<h4>Job</h4><table>");
        Row(html, "name", m.Job);
        Row(html, "id", m.JobId);
        Row(html, "started", m.Started.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", inv));
        if (m.Finished is { } finished) Row(html, "finished", finished.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", inv));
        if (m.Seconds is { } seconds) Row(html, "duration", string.Create(inv, $"{seconds:F1} s"));
        var attempts = m.Shards.Sum(s => s.Attempts ?? 1);
        Row(html, "shards", string.Create(inv, $"{m.Shards.Length} of up to {m.ShardSize:N0} samples; {attempts} attempts ({attempts - m.Shards.Length} retried)"));
        var silos = m.Silos ?? [.. m.Shards.Select(s => s.Silo).OfType<string>().Distinct(StringComparer.Ordinal)];
        Row(html, "silos", silos.Length == 0 ? "not recorded" : string.Join(", ", silos));
        Row(html, "seeds", m.Seeds is null ? "not recorded" : m.Seeds.Count == 0 ? "none: nothing in this job draws at random"
            : string.Join(", ", m.Seeds.Select(s => string.Create(inv, $"{s.Key} = {s.Value}"))));
        if (m.Maps is { } maps) Row(html, "stored maps", StoredMaps.Describe(maps));
        Row(html, "versions", string.Join(", ", m.Versions.Select(v => $"{v.Key} {v.Value}")));
        if (m.TraceId is { } trace) Row(html, "trace id", trace);
        if (JobFileValues.LocationAt(job, "output") is { } output) Row(html, "output", output);
        return new ReportText(null, html.Append("</table>").ToString());
    }

    /// <summary>A table's features as the job file encodes them: name, type, encoding and what a missing value becomes.</summary>
    private static void Encodings(StringBuilder html, JsonElement[] features)
    {
        html.Append(string.Create(CultureInfo.InvariantCulture, $"<details open><summary>The {features.Length} features' encodings</summary>"))
            .Append("<table><tr><th class=\"l\">feature</th><th class=\"l\">type</th><th class=\"l\">encoding</th><th class=\"l\">a missing value</th></tr>");
        foreach (var feature in features)
        {
            string Text(string key) => JobFileValues.At(feature, key) is { } v ? v.ToString() : "";
            var missing = JobFileValues.At(feature, "missing") is { } m ? (m.ValueKind == JsonValueKind.String && m.GetString() == "fail" ? "fails the job" : "becomes " + m.GetRawText()) : "fails the job";
            html.Append("<tr><td class=\"l\">").Append(E(Text("name"))).Append("</td><td class=\"l\">").Append(E(Text("type")))
                .Append("</td><td class=\"l\">").Append(E(Encoding(JobFileValues.At(feature, "encode")))).Append("</td><td class=\"l\">").Append(E(missing)).Append("</td></tr>");
        }
        html.Append("</table></details>");
    }

    /// <summary>A feature's <c>encode</c> block in words: standardised (x − mean) / std, one-hot or index over its levels, or the value as it is.</summary>
    private static string Encoding(JsonElement? encode)
    {
        if (encode is not { ValueKind: JsonValueKind.Object } e) return "the value as it is";
        if (JobFileValues.At(e, "standardize") is { } z)
            return $"(x − {JobFileValues.At(z, "mean")?.GetRawText() ?? "0"}) / {JobFileValues.At(z, "std")?.GetRawText() ?? "1"}";
        foreach (var (key, words) in new[] { ("oneHot", "one-hot over"), ("index", "the index among") })
            if (JobFileValues.At(e, key) is { ValueKind: JsonValueKind.Array } levels)
                return $"{words} {levels.GetArrayLength()} levels: {string.Join(", ", levels.EnumerateArray().Select(l => l.ToString()))}";
        return e.GetRawText();
    }

    /// <summary>The job file's <c>data.preprocess</c> as the formula it stands for.</summary>
    private static string Preprocessing(JsonElement? preprocess)
    {
        string Value(string key, string otherwise) => preprocess is { } p && JobFileValues.At(p, key) is { } v ? v.GetRawText() : otherwise;
        return $"x = (raw · scale − mean[c]) / std[c], scale {Value("scale", "1")}, mean {Value("mean", "none (0)")}, std {Value("std", "none (1)")}"
            + (preprocess is { } q && JobFileValues.At(q, "shape") is { } shape ? $", reshaped to {shape.GetRawText()}" : "");
    }

    private static void Row(StringBuilder html, string name, string value) =>
        html.Append("<tr><th class=\"l\">").Append(E(name)).Append("</th><td class=\"l\">").Append(E(value)).Append("</td></tr>");
}
