using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Segmentation;

/// <summary>
/// Reads the job file's top-level <c>segments</c> object strictly: an unknown algorithm or field, or a value
/// out of range, is an error in one line that names the field, as the rest of the job file is read.
/// </summary>
public static class SegmentsOptions
{
    public const int MaxCount = 65536;

    public static SegmentsSpec Parse(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object) throw new ExplainException("segments: expected an object");
        if (!element.TryGetProperty("algorithm", out var name) || name.ValueKind == JsonValueKind.Null)
            throw new ExplainException($"segments.algorithm: missing (one of {string.Join(", ", SegmenterRegistry.Names)})");
        if (name.ValueKind != JsonValueKind.String || !SegmenterRegistry.TryGet(name.GetString()!, out var descriptor))
            throw new ExplainException($"segments.algorithm: expected one of {string.Join(", ", SegmenterRegistry.Names)}");
        var reader = new OptionsReader(element, "segments.", "algorithm");
        var spec = descriptor.Read(reader);
        reader.RejectUnread();
        return spec;
    }
}
