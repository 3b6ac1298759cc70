using System.Text.Json;

namespace ExplainCluster.Engine.Options;

/// <summary>
/// The job file's JSON: comments and trailing commas allowed, read wherever job text is read (the job file,
/// a method's options, the copy in the manifest), and checked whole up front, strings included, so that a
/// bad \u escape is a named error here instead of an exception from the first read of that string.
/// </summary>
public static class JsonText
{
    public static readonly JsonDocumentOptions Options = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The document of <paramref name="json"/>; anything unreadable is an <see cref="ExplainException"/> "<paramref name="what"/> is not valid JSON: why".</summary>
    public static JsonDocument Parse(string json, string what)
    {
        JsonDocument? document = null;
        try
        {
            document = JsonDocument.Parse(json, Options);
            CheckStrings(document.RootElement);
            return document;
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            document?.Dispose();
            throw new ExplainException($"{what} is not valid JSON: {e.Message}", e);
        }
    }

    /// <summary>Reads every string and property name once: one whose escapes are not valid UTF-16 (a lone surrogate) throws.</summary>
    private static void CheckStrings(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                element.GetString();
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray()) CheckStrings(item);
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    CheckStrings(property.Value);
                }
                break;
        }
    }
}
