using System.Text.Json;

namespace ExplainCluster.Engine.Options;

/// <summary>
/// Reads one object of the job file strictly (a method's options, <c>segments</c>): each read names its field
/// under <paramref name="prefix"/> in a one-line error, and whatever was not read is an unknown field.
/// </summary>
public sealed class OptionsReader(JsonElement options, string prefix, params string[] readElsewhere)
{
    private readonly HashSet<string> _read = [.. readElsewhere];

    public string Prefix => prefix;

    /// <summary>The options of <paramref name="json"/> (an object's text), named <paramref name="prefix"/> in errors.</summary>
    public static OptionsReader Parse(string json, string prefix, params string[] readElsewhere)
    {
        using var document = JsonText.Parse(json, prefix.TrimEnd('.'));
        var root = document.RootElement.Clone();
        return root.ValueKind == JsonValueKind.Object ? new OptionsReader(root, prefix, readElsewhere)
            : throw new ExplainException($"{prefix.TrimEnd('.')}: expected an object");
    }

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="fallback"/> when absent.</summary>
    public double Number(string name, double fallback, double min, double max, string expected)
    {
        if (Value(name) is not { } v) return fallback;
        return v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) && d >= min && d <= max ? d
            : throw new ExplainException($"{prefix}{name}: expected {expected}");
    }

    /// <summary>An integer from <paramref name="min"/> to <paramref name="max"/>; required when <paramref name="fallback"/> is null.</summary>
    public int Integer(string name, int? fallback, int min = 1, int max = 65536)
    {
        if (Value(name) is not { } v)
            return fallback ?? throw new ExplainException($"{prefix}{name}: missing");
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i >= min && i <= max ? i
            : throw new ExplainException($"{prefix}{name}: expected an integer from {min} to {max}");
    }

    /// <summary>A non-empty string; required when <paramref name="fallback"/> is null.</summary>
    public string Text(string name, string? fallback = null)
    {
        if (Value(name) is not { } v)
            return fallback ?? throw new ExplainException($"{prefix}{name}: missing");
        return v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s ? s
            : throw new ExplainException($"{prefix}{name}: expected a non-empty string");
    }

    /// <summary>One of <paramref name="choices"/> (the first is the default).</summary>
    public string Choice(string name, params string[] choices)
    {
        if (Value(name) is not { } v) return choices[0];
        return v.ValueKind == JsonValueKind.String && choices.Contains(v.GetString(), StringComparer.Ordinal) ? v.GetString()!
            : throw new ExplainException($"{prefix}{name}: expected one of {string.Join(", ", choices.Select(c => $"\"{c}\""))}");
    }

    /// <summary>The raw value, for options that take a number or a name; null when absent.</summary>
    public JsonElement? Raw(string name) => Value(name);

    /// <summary>An unknown field is an error: call after every option was read.</summary>
    public void RejectUnread()
    {
        foreach (var p in options.EnumerateObject())
            if (!_read.Contains(p.Name)) throw new ExplainException($"{prefix}{p.Name}: unknown field");
    }

    private JsonElement? Value(string name)
    {
        _read.Add(name);
        return options.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
    }
}
