using System.Text.Json;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Data;

/// <summary>
/// <c>data.metadata</c> of a table or an image manifest: columns carried as text into <c>samples/part-NNNNN.parquet</c> after
/// its own columns (and the cohorts the job reports by). A name the samples table already uses is refused.
/// </summary>
public static class MetadataOptions
{
    /// <summary>The samples table's own columns before the methods' (which <c>ShardWriter</c> checks when it writes).</summary>
    public static readonly string[] SamplesColumns = ["index", "label", "prediction", "confidence", "loss", "correct"];

    /// <summary>The <c>metadata</c> field of <paramref name="options"/> (none when absent), checked against the samples table's columns.</summary>
    public static string[] Read(OptionsReader options)
    {
        var metadata = options.Raw("metadata") is { } m ? Names(m, $"{options.Prefix}metadata") : [];
        if (metadata.FirstOrDefault(name => SamplesColumns.Contains(name, StringComparer.Ordinal)) is { } taken)
            throw new ExplainException($"{options.Prefix}metadata: \"{taken}\" is a column of the samples table already ({string.Join(", ", SamplesColumns)})");
        return metadata;
    }

    /// <summary>A non-empty array of distinct non-empty strings, or a one-line error naming <paramref name="path"/>.</summary>
    public static string[] Names(JsonElement e, string path)
    {
        var names = e.ValueKind == JsonValueKind.Array && e.GetArrayLength() > 0 && e.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String && x.GetString() is { Length: > 0 })
            ? e.EnumerateArray().Select(x => x.GetString()!).ToArray()
            : throw new ExplainException($"{path}: expected a non-empty array of non-empty strings");
        return names.Distinct(StringComparer.Ordinal).Count() == names.Length ? names : throw new ExplainException($"{path}: a name is given twice");
    }
}
