using System.Text.Json;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// What the job file said, as manifest.json keeps it (<see cref="Output.Manifest.JobFile"/>, secrets already redacted):
/// the report shows locations as the job gave them, never as the machine that ran it resolved them.
/// </summary>
public static class JobFileValues
{
    /// <summary>The value at <paramref name="path"/> (object keys), or null when the job file has none there.</summary>
    public static JsonElement? At(JsonElement jobFile, params string[] path)
    {
        var at = jobFile;
        foreach (var key in path)
            if (at.ValueKind != JsonValueKind.Object || !at.TryGetProperty(key, out at)) return null;
        return at.ValueKind == JsonValueKind.Null ? null : at;
    }

    /// <summary>The string at <paramref name="path"/> shown as a location (<see cref="Location"/>), or null.</summary>
    public static string? LocationAt(JsonElement jobFile, params string[] path) =>
        At(jobFile, path) is { ValueKind: JsonValueKind.String } value ? Location(value.GetString()!) : null;

    /// <summary>
    /// A location as the report shows it: a URL without its query (a SAS token), a relative path as the job gave it (relative
    /// to the job file), and an absolute local path by its file name only ("…/model.pt"): where a file lay on the machine
    /// that ran the job says nothing to a reader, and the hashes identify it.
    /// </summary>
    public static string Location(string given) =>
        BlobLocator.IsRemote(given) ? Redaction.Location(given)
        : Path.IsPathRooted(given) || given.StartsWith('~') ? "…/" + Path.GetFileName(given.TrimEnd('/', '\\'))
        : given;
}
