using System.Text.Json;
using ExplainCluster.Contracts;

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
        var reader = new Reader(element);
        var spec = descriptor.Read(reader);
        reader.RejectUnread();
        return spec;
    }

    /// <summary>One algorithm's options: each read names its field, and whatever was not read is an unknown field.</summary>
    public sealed class Reader(JsonElement options)
    {
        private readonly HashSet<string> _read = ["algorithm"];

        /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="fallback"/> when absent.</summary>
        public double Number(string name, double fallback, double min, double max, string expected)
        {
            if (Value(name) is not { } v) return fallback;
            return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d >= min && d <= max ? d
                : throw new ExplainException($"segments.{name}: expected {expected}");
        }

        /// <summary>An integer from 1 to <see cref="MaxCount"/>; required when <paramref name="fallback"/> is null.</summary>
        public int Integer(string name, int? fallback)
        {
            if (Value(name) is not { } v)
                return fallback ?? throw new ExplainException($"segments.{name}: missing");
            return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i is >= 1 and <= MaxCount ? i
                : throw new ExplainException($"segments.{name}: expected an integer from 1 to {MaxCount}");
        }

        internal void RejectUnread()
        {
            foreach (var p in options.EnumerateObject())
                if (!_read.Contains(p.Name)) throw new ExplainException($"segments.{p.Name}: unknown field");
        }

        private JsonElement? Value(string name)
        {
            _read.Add(name);
            return options.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
        }
    }
}
