using System.Text.Json;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// evidence.json (docs/evidence.md): the report's findings, the verdicts, the key metrics and every interval summary.json
/// holds, and the provenance, in a versioned schema for tools that check a model's file without reading HTML. Made by the
/// report writer from the outputs alone, so <c>explain report OUT</c> makes it again and it always matches the report
/// beside it; locations are the job file's (<see cref="JobFileValues"/>), secrets redacted.
/// </summary>
public static class EvidencePack
{
    /// <summary>The schema's name and major version: a reader checks it before reading anything else.</summary>
    public const string Schema = "explaincluster.evidence/1";

    public static async Task<byte[]> JsonAsync(ReportContext report, CancellationToken ct)
    {
        JsonElement summaryJson;
        await using (var stream = await report.Output.Child(OutputLayout.Summary).OpenReadAsync(ct))
        using (var document = await JsonDocument.ParseAsync(stream, cancellationToken: ct))
            summaryJson = document.RootElement.Clone();
        var (m, summary, job) = (report.Manifest, report.Summary, report.Manifest.JobFile);
        var evidence = new Evidence(
            Schema,
            new EvidenceJob(m.Job, m.JobId, m.Started, m.Finished, m.Seconds, m.Shards.Length, m.ShardSize,
                m.Silos ?? [.. m.Shards.Select(s => s.Silo).OfType<string>().Distinct(StringComparer.Ordinal)], m.Seeds, m.Versions, m.TraceId),
            new EvidenceModel(JobFileValues.LocationAt(job, "model", "uri") ?? JobFileValues.Location(m.Model), m.ModelSha256,
                m.Architecture?.Format, m.Architecture?.Parameters, m.Architecture?.Layers, summary.Classes),
            new EvidenceData(JobFileValues.LocationAt(job, "data", "inputs") ?? JobFileValues.Location(m.Inputs), m.InputsSha256,
                m.Labels is null ? null : JobFileValues.LocationAt(job, "data", "labels") ?? JobFileValues.Location(m.Labels), m.LabelsSha256,
                m.Samples, m.SampleShape, m.Target, JobFileValues.At(job, "data", "preprocess")),
            [.. Findings.Of(m, summary)],
            summaryJson.TryGetProperty("verdicts", out var verdicts) && verdicts.ValueKind != JsonValueKind.Null ? verdicts : null,
            summary.ErrorAnalysis is { } e ? new EvidenceMetrics(e.Accuracy, e.MeanNll, e.ExpectedCalibrationError,
                [.. e.PerClass.Select(c => new EvidenceClass(c.Class, c.Name, c.Support, c.Precision, c.Recall, c.F1))]) : null,
            [.. Intervals(summaryJson, "")]);
        return JsonSerializer.SerializeToUtf8Bytes(evidence, Manifest.Json);
    }

    /// <summary>
    /// Every interval in summary.json, wherever a feature put it: an object with <c>value, low, high, n</c> (the statistics'
    /// form) or <c>count, mean, low, high</c> (the verdicts' paired differences), with its path ("verdicts.methods.saliency.deletion").
    /// </summary>
    private static IEnumerable<EvidenceInterval> Intervals(JsonElement element, string path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                if (Number(element, "low") is var low && Number(element, "high") is var high && element.TryGetProperty("low", out _) && element.TryGetProperty("high", out _))
                {
                    if (element.TryGetProperty("value", out _) && element.TryGetProperty("n", out _))
                        yield return new(path, Number(element, "value"), low, high, (long?)Number(element, "n"));
                    else if (element.TryGetProperty("mean", out _) && element.TryGetProperty("count", out _))
                        yield return new(path, Number(element, "mean"), low, high, (long?)Number(element, "count"));
                }
                foreach (var property in element.EnumerateObject())
                    foreach (var interval in Intervals(property.Value, path.Length == 0 ? property.Name : $"{path}.{property.Name}")) yield return interval;
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                    foreach (var interval in Intervals(item, $"{path}[{i++}]")) yield return interval;
                break;
        }
    }

    private static double? Number(JsonElement o, string name) => o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
}

/// <summary>evidence.json (docs/evidence.md describes every field).</summary>
public sealed record Evidence(string Schema, EvidenceJob Job, EvidenceModel Model, EvidenceData Data, Finding[] Findings,
    JsonElement? Verdicts, EvidenceMetrics? Metrics, EvidenceInterval[] Intervals);

public sealed record EvidenceJob(string Name, string Id, DateTimeOffset Started, DateTimeOffset? Finished, double? Seconds, int Shards, int ShardSize,
    string[] Silos, Dictionary<string, long>? Seeds, Dictionary<string, string> Versions, string? TraceId);

public sealed record EvidenceModel(string Location, string? Sha256, string? Format, long? Parameters, ModelLayer[]? Layers, string[] Classes);

public sealed record EvidenceData(string Inputs, string? InputsSha256, string? Labels, string? LabelsSha256, long Samples, int[] SampleShape, string Target,
    JsonElement? Preprocess);

public sealed record EvidenceMetrics(double Accuracy, double MeanNll, double ExpectedCalibrationError, EvidenceClass[] PerClass);

public sealed record EvidenceClass(int Class, string Name, long Support, double Precision, double Recall, double F1);

/// <summary>An interval summary.json holds: where (<paramref name="Path"/>), the estimate, its bounds (null for n &lt; 2) and its sample count.</summary>
public sealed record EvidenceInterval(string Path, double? Value, double? Low, double? High, long? N);
