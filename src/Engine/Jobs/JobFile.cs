using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Segmentation;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>Reads a job file strictly: unknown fields and methods are errors that name the field.</summary>
public static class JobFile
{
    public const int DefaultShardSize = 1024;
    public const int MaxShardSize = 16384;
    public const int DefaultBatchSize = 256;

    public static JobSpec Load(string path, string? outputOverride = null)
    {
        string json;
        try { json = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ExplainException($"job file {path} cannot be read: {e.Message}");
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Parse(json, dir, outputOverride, Path.GetFileNameWithoutExtension(path));
    }

    public static JobSpec Parse(string json, string baseDirectory, string? outputOverride = null, string defaultName = "job")
    {
        using (var doc = Options.JsonText.Parse(json, "job file"))
        {
            var root = Object(doc.RootElement, "(job)");
            Known(root, "", "name", "model", "data", "methods", "target", "shardSize", "batchSize", "output", "segments", "faithfulness", "sanity", "views", "verdicts", "overwrite", "history", "compare", "trust", "concepts", "cohorts", "dependence", "errorTree", "maps");

            var model = Object(Required(root, "model", ""), "model");
            Known(model, "model.", "uri", "classes");
            var classes = Optional(model, "classes") is { } c ? StringArray(c, "model.classes") : null;

            var data = ParseData(Object(Required(root, "data", ""), "data"), baseDirectory);

            var target = Optional(root, "target") is { } t ? String(t, "target") switch
            {
                "predicted" => TargetMode.Predicted,
                "label" => TargetMode.Label,
                var other => throw new ExplainException($"target: '{other}' is neither \"predicted\" nor \"label\""),
            } : TargetMode.Predicted;
            if (target == TargetMode.Label && !data.HasLabels)
                throw new ExplainException(data.Table is not null ? "target: \"label\" needs data.label (the table's label column)"
                    : data.Images is null ? "target: \"label\" needs data.labels"
                    : "target: \"label\" needs labels (data.labels: \"folders\", or data.label with a manifest)");

            var output = outputOverride ?? (Optional(root, "output") is { } o ? String(o, "output") : null)
                ?? throw new ExplainException("output: missing (or pass --out)");
            History.OutputTemplate.Check(output);
            var history = Optional(root, "history") is { } h ? String(h, "history") : null;
            var shardSize = Optional(root, "shardSize") is { } s ? Int(s, "shardSize", 1, MaxShardSize) : DefaultShardSize;
            var batchSize = Optional(root, "batchSize") is { } b ? Int(b, "batchSize", 1, 65536) : DefaultBatchSize;
            var methods = ParseMethods(Required(root, "methods", ""), data.Table is not null);

            var spec = new JobSpec(
                Optional(root, "name") is { } n ? String(n, "name") : defaultName,
                new ModelSpec(BlobLocator.Absolute(String(Required(model, "uri", "model."), "model.uri"), baseDirectory), classes),
                data,
                methods,
                target,
                shardSize,
                BlobLocator.Absolute(output, outputOverride is null ? baseDirectory : Environment.CurrentDirectory),
                batchSize,
                json,
                Segments: Optional(root, "segments") is { } seg ? SegmentsOptions.Parse(seg) : null,
                Faithfulness: Optional(root, "faithfulness") is { } f ? FaithfulnessOptions.Read(Object(f, "faithfulness").GetRawText()) : null,
                Sanity: Optional(root, "sanity") is { } sanity ? Sanity.SanityOptions.Read(Object(sanity, "sanity").GetRawText(), methods) : null,
                Views: Optional(root, "views") is { } views ? Views.ViewsOptions.Read(views, methods) : null,
                Trust: Optional(root, "trust") is { } trust ? Trust.TrustOptions.Read(Object(trust, "trust").GetRawText(), methods) : null,
                Concepts: Optional(root, "concepts") is { } concepts ? Concepts.ConceptsOptions.Read(concepts, baseDirectory, data) : null,
                Verdicts: Optional(root, "verdicts") is { } verdicts ? Verdicts.VerdictsOptions.Read(Object(verdicts, "verdicts").GetRawText()) : null,
                Overwrite: Optional(root, "overwrite") is { } ow && (ow.ValueKind is JsonValueKind.True or JsonValueKind.False
                    ? ow.GetBoolean() : throw new ExplainException("overwrite: expected true or false")),
                History: history is null ? null : BlobLocator.Absolute(history, baseDirectory),
                Compare: Optional(root, "compare") is { } cmp ? ParseCompare(cmp, history is not null, baseDirectory) : null,
                Cohorts: Cohorts.CohortOptions.Read(Optional(root, "cohorts"), data),
                Dependence: Dependence.DependenceOptions.Read(Optional(root, "dependence"), data, methods),
                ErrorTree: ErrorTree.ErrorTreeOptions.Read(Optional(root, "errorTree"), data),
                Maps: Output.MapsOptions.Read(Optional(root, "maps"), data));
            if (data.Table is not null) Data.Tables.TableOptions.CheckJob(spec);
            return spec;
        }
    }

    /// <summary>The <c>compare</c> block: a baseline (<c>previous</c>, which needs a history, or a job output's location) and the gate.</summary>
    private static CompareSpec ParseCompare(JsonElement element, bool hasHistory, string baseDirectory)
    {
        var compare = Object(element, "compare");
        Known(compare, "compare.", "baseline", "fail");
        var baseline = String(Required(compare, "baseline", "compare."), "compare.baseline");
        if (baseline == CompareSpec.Previous && !hasHistory)
            throw new ExplainException("compare.baseline: \"previous\" is the latest run of the job's history; set \"history\" too");
        return new CompareSpec(baseline == CompareSpec.Previous ? baseline : BlobLocator.Absolute(baseline, baseDirectory),
            Optional(compare, "fail") is { } fail ? ParseGate(fail, "compare.fail") : new CompareGate());
    }

    /// <summary>The drift gate's thresholds (<c>compare.fail</c>, or <c>explain compare --fail</c>).</summary>
    public static CompareGate ParseGate(JsonElement element, string path)
    {
        var fail = Object(element, path);
        Known(fail, path + ".", "accuracyDrop", "ndcg", "medianMapCorrelation");
        double? Bounded(string name, double min, double max) => Optional(fail, name) is { } v
            ? Double(v, $"{path}.{name}") is var x && x >= min && x <= max ? x : throw new ExplainException($"{path}.{name}: expected a number from {min} to {max}")
            : null;
        return new CompareGate(Bounded("accuracyDrop", 0, 1), Bounded("ndcg", 0, 1), Bounded("medianMapCorrelation", -1, 1));
    }

    /// <summary><c>data</c>: an array (<c>inputs</c>, <c>labels</c>, <c>preprocess</c>), image files (<see cref="Data.Images.ImageDataOptions"/>) or a table (<see cref="Data.Tables.TableOptions"/>).</summary>
    private static DataSpec ParseData(JsonElement data, string baseDirectory)
    {
        var kinds = new[] { "inputs", "images", "manifest", "tar", "table" }.Where(k => Optional(data, k) is not null).ToArray();
        if (kinds.Length != 1)
            throw new ExplainException(kinds.Length == 0 ? "data: give inputs (an array file), images (a folder), manifest (a CSV or Parquet file of images), tar (WebDataset shards of images) or table (a CSV or Parquet file of features)"
                : $"data: {string.Join(" and ", kinds)} exclude each other; give one");
        if (kinds[0] == "inputs")
        {
            Known(data, "data.", "inputs", "labels", "preprocess");
            var labels = Optional(data, "labels") is { } l ? String(l, "data.labels") : null;
            return new DataSpec(
                BlobLocator.Absolute(String(data.GetProperty("inputs"), "data.inputs"), baseDirectory),
                labels is null ? null : BlobLocator.Absolute(labels, baseDirectory),
                ParsePreprocess(Optional(data, "preprocess")));
        }
        return kinds[0] == "table" ? Data.Tables.TableOptions.Read(data, baseDirectory) : Data.Images.ImageDataOptions.Read(data, baseDirectory);
    }

    private static PreprocessSpec ParsePreprocess(JsonElement? element)
    {
        if (element is null) return new PreprocessSpec(1.0, null, null, null);
        var p = Object(element.Value, "data.preprocess");
        Known(p, "data.preprocess.", "scale", "mean", "std", "shape");
        var mean = Optional(p, "mean") is { } m ? DoubleArray(m, "data.preprocess.mean") : null;
        var std = Optional(p, "std") is { } s ? DoubleArray(s, "data.preprocess.std") : null;
        if ((mean is null) != (std is null)) throw new ExplainException("data.preprocess: mean and std go together");
        if (mean is not null && mean.Length != std!.Length) throw new ExplainException("data.preprocess: mean and std differ in length");
        if (std is not null && std.Any(v => v <= 0)) throw new ExplainException("data.preprocess.std: every value must be > 0");
        var shape = Optional(p, "shape") is { } sh
            ? [.. DoubleArray(sh, "data.preprocess.shape").Select(v => v >= 1 && v == Math.Floor(v) ? (int)v
                : throw new ExplainException("data.preprocess.shape: dimensions must be positive integers"))]
            : (int[]?)null;
        var scale = Optional(p, "scale") is { } sc ? Double(sc, "data.preprocess.scale") : 1.0;
        return new PreprocessSpec(scale, mean, std, shape);
    }

    private static MethodSpec[] ParseMethods(JsonElement element, bool table)
    {
        var methods = new List<MethodSpec>();
        foreach (var property in Object(element, "methods").EnumerateObject())
        {
            // The method reads (and so checks) its own options now, so a bad one fails the job file, not a shard.
            var spec = new MethodSpec(property.Name, null, Object(property.Value, $"methods.{property.Name}").GetRawText());
            methods.Add(spec with { Layer = MethodRegistry.Create(spec, table).Layer });
        }
        return [.. methods];
    }

    private static JsonElement Object(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Object ? e : throw new ExplainException($"{path}: expected an object");

    private static void Known(JsonElement obj, string prefix, params string[] names)
    {
        foreach (var p in obj.EnumerateObject())
            if (!names.Contains(p.Name)) throw new ExplainException($"{prefix}{p.Name}: unknown field");
    }

    private static JsonElement Required(JsonElement obj, string name, string prefix) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v
            : throw new ExplainException($"{prefix}{name}: missing");

    private static JsonElement? Optional(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static string String(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.String && e.GetString() is { Length: > 0 } s ? s : throw new ExplainException($"{path}: expected a non-empty string");

    private static double Double(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Number && double.IsFinite(e.GetDouble()) ? e.GetDouble() : throw new ExplainException($"{path}: expected a number");

    private static int Int(JsonElement e, string path, int min, int max) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var v) && v >= min && v <= max ? v
            : throw new ExplainException($"{path}: expected an integer from {min} to {max}");

    private static double[] DoubleArray(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0 ? [.. e.EnumerateArray().Select(x => Double(x, path))]
            : throw new ExplainException($"{path}: expected a non-empty array of numbers");

    private static string[] StringArray(JsonElement e, string path) =>
        e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0 ? [.. e.EnumerateArray().Select(x => String(x, path))]
            : throw new ExplainException($"{path}: expected a non-empty array of strings");
}
