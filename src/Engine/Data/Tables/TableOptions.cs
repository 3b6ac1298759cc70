using System.Globalization;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// The job file's <c>data</c> when it names a table: <c>table</c> (a CSV or Parquet file), <c>features</c> (each
/// <c>{"name", "type": "numeric" | "categorical", "encode": {"standardize": {"mean", "std"}} | {"oneHot": [levels]} |
/// {"index": [levels]}, "missing": "fail" | a value}</c>), <c>label</c> (a column) and <c>metadata</c> (columns).
/// </summary>
public static class TableOptions
{
    public static DataSpec Read(JsonElement data, string baseDirectory)
    {
        var options = new OptionsReader(data, "data.");
        var location = options.Text("table");
        var features = options.Raw("features") is { ValueKind: JsonValueKind.Array } f && f.GetArrayLength() > 0
            ? f.EnumerateArray().Select((e, i) => Feature(e, $"data.features[{i}].")).ToArray()
            : throw new ExplainException("data.features: expected a non-empty array of features");
        var label = options.Raw("label") is not null ? options.Text("label") : null;
        var metadata = MetadataOptions.Read(options);
        options.RejectUnread();
        var duplicate = features.Select(x => x.Name).Concat(metadata).Concat(label is null ? [] : [label])
            .GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ExplainException($"data: column \"{duplicate.Key}\" is named twice among features, label and metadata");
        return new DataSpec(BlobLocator.Absolute(location, baseDirectory), null, new PreprocessSpec(1.0, null, null, null), Table: new TableSpec(features, label, metadata));
    }

    /// <summary>
    /// What a table job cannot have yet: methods over image segments or a layer's grid, and the image-shaped checks and
    /// views (faithfulness's pixel curves, the sanity check's map correlations, the views); and a gradient method when a
    /// feature is index-encoded: the model casts a level's index to an integer (for an embedding), so no gradient exists
    /// there, and a map of zeros would claim the feature does not matter.
    /// </summary>
    public static void CheckJob(JobSpec job)
    {
        var indexed = job.Data.Table!.Features.FirstOrDefault(f => f.Encoding == FeatureEncoding.Index);
        foreach (var spec in job.Methods)
        {
            var method = Methods.MethodRegistry.Create(spec, table: true);
            if (method.UsesSegments || method.Layer is not null || !method.MapsPixels)
                throw new ExplainException($"methods.{spec.Name}: not for tables yet (tables take saliency, grad-x-input, integrated-gradients, smooth-grad, kernel-shap, permutation-shap, lime)");
            if (method.Background is { ByLabel: true } && job.Data.Table!.Label is null)
                throw new ExplainException($"methods.{spec.Name}.background.perLabel: needs data.label (the rows are chosen per label)");
            if (method.DifferentiatesInput && indexed is not null)
                throw new ExplainException($"methods.{spec.Name}: feature \"{indexed.Name}\" is index-encoded, and a gradient with respect to a level's index does not exist (use kernel-shap, permutation-shap or lime, or encode it oneHot)");
        }
        var unsupported = new (string Name, bool Present)[]
        {
            ("segments", job.Segments is not null), ("faithfulness", job.Faithfulness is not null), ("sanity", job.Sanity is not null), ("views", job.Views is not null),
            ("trust", job.Trust is not null),
        }.FirstOrDefault(u => u.Present);
        if (unsupported.Name is { } name) throw new ExplainException($"{name}: not for tables yet");
    }

    private static TableFeature Feature(JsonElement element, string prefix)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new ExplainException($"{prefix.TrimEnd('.')}: expected an object");
        var options = new OptionsReader(element, prefix);
        var name = options.Text("name");
        var categorical = options.Choice("type", "numeric", "categorical") == "categorical";
        var encode = options.Raw("encode");
        if (encode is { } e && (e.ValueKind != JsonValueKind.Object || e.EnumerateObject().Count() != 1))
            throw new ExplainException($"{prefix}encode: expected one of {{\"standardize\": {{\"mean\", \"std\"}}}}, {{\"oneHot\": [levels]}}, {{\"index\": [levels]}}");
        var (kind, value) = encode is { } en ? en.EnumerateObject().Select(p => (p.Name, p.Value)).Single() : ("", default);
        var feature = (categorical, kind) switch
        {
            (false, "") => new TableFeature(name, false, FeatureEncoding.Identity, 0, 1, null, null),
            (false, "standardize") => Standardize(name, value, $"{prefix}encode.standardize."),
            (true, "oneHot") => new TableFeature(name, true, FeatureEncoding.OneHot, 0, 1, MetadataOptions.Names(value, $"{prefix}encode.oneHot"), null),
            (true, "index") => new TableFeature(name, true, FeatureEncoding.Index, 0, 1, MetadataOptions.Names(value, $"{prefix}encode.index"), null),
            (true, "") => throw new ExplainException($"{prefix}encode: a categorical feature needs {{\"oneHot\": [levels]}} or {{\"index\": [levels]}}"),
            (false, "oneHot" or "index") => throw new ExplainException($"{prefix}encode.{kind}: only for \"type\": \"categorical\""),
            (true, "standardize") => throw new ExplainException($"{prefix}encode.standardize: only for \"type\": \"numeric\""),
            _ => throw new ExplainException($"{prefix}encode.{kind}: unknown encoding (standardize, oneHot or index)"),
        };
        var missing = options.Raw("missing") switch
        {
            null => null,
            { ValueKind: JsonValueKind.String } s when s.GetString() == "fail" => null,
            { ValueKind: JsonValueKind.String } s when categorical && feature.Levels!.Contains(s.GetString()) => s.GetString(),
            { ValueKind: JsonValueKind.Number } n when !categorical && n.TryGetDouble(out var d) && double.IsFinite(d) => d.ToString("R", CultureInfo.InvariantCulture),
            _ => throw new ExplainException(categorical ? $"{prefix}missing: expected \"fail\" or one of the feature's levels"
                : $"{prefix}missing: expected \"fail\" or a number"),
        };
        options.RejectUnread();
        return feature with { Missing = missing };
    }

    private static TableFeature Standardize(string name, JsonElement value, string prefix)
    {
        if (value.ValueKind != JsonValueKind.Object) throw new ExplainException($"{prefix.TrimEnd('.')}: expected {{\"mean\", \"std\"}}");
        var options = new OptionsReader(value, prefix);
        var mean = options.Number("mean", double.NaN, double.MinValue, double.MaxValue, "a number");
        var std = options.Number("std", double.NaN, double.Epsilon, double.MaxValue, "a number > 0");
        if (double.IsNaN(mean) || double.IsNaN(std)) throw new ExplainException($"{prefix}{(double.IsNaN(mean) ? "mean" : "std")}: missing");
        options.RejectUnread();
        return new TableFeature(name, false, FeatureEncoding.Standardize, mean, std, null, null);
    }
}
