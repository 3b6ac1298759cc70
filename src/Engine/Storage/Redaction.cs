using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace ExplainCluster.Engine.Storage;

/// <summary>
/// What leaves a job (manifest.json, summary.json, the report, logs, traces, errors, <c>explain status</c>)
/// names its locations without their secrets: a URL's query (a SAS token) becomes <c>?…redacted</c>, and an
/// account key, SAS or password inside a connection string becomes <c>…redacted</c>.
/// </summary>
public static partial class Redaction
{
    public const string Marker = "…redacted";

    /// <summary>A location as it may be shown: a URL without its query; anything else as it is.</summary>
    public static string Location(string location)
    {
        if (!BlobLocator.IsRemote(location)) return location;
        var query = location.IndexOf('?');
        return query < 0 ? location : location[..query] + "?" + Marker;
    }

    /// <summary>Free text (an error message, a log line) with every URL query and connection-string secret redacted.</summary>
    public static string Text(string text) =>
        Secret().Replace(UrlQuery().Replace(text, m => m.Groups[1].Value + "?" + Marker), m => m.Groups[1].Value + "=" + Marker);

    /// <summary>A job file's JSON with every string value redacted as <see cref="Text"/>; its shape unchanged.</summary>
    public static JsonElement Json(string json)
    {
        var node = JsonNode.Parse(json, null, Options.JsonText.Options); // the job file's dialect: comments, trailing commas
        var redacted = Redact(node);
        using var document = JsonDocument.Parse(redacted?.ToJsonString() ?? "null");
        return document.RootElement.Clone();
    }

    /// <summary>Redacts the strings under <paramref name="node"/> in place; returns the node, or a new one for a redacted string.</summary>
    private static JsonNode? Redact(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).ToArray())
                    if (obj[key] is JsonValue value && Redact(value) is var redacted && !ReferenceEquals(redacted, value)) obj[key] = redacted;
                    else Redact(obj[key]);
                return obj;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                    if (array[i] is JsonValue value && Redact(value) is var redacted && !ReferenceEquals(redacted, value)) array[i] = redacted;
                    else Redact(array[i]);
                return array;
            case JsonValue value when value.TryGetValue<string>(out var s) && Text(s) is var text && text != s:
                return JsonValue.Create(text);
            default:
                return node;
        }
    }

    [GeneratedRegex(@"\b((?:https?|az)://[^\s?""']+)\?[^\s""']*", RegexOptions.IgnoreCase)]
    private static partial Regex UrlQuery();

    [GeneratedRegex(@"\b(AccountKey|SharedAccessSignature|sig|Password|pwd)=[^;\s""'&]+", RegexOptions.IgnoreCase)]
    private static partial Regex Secret();
}
