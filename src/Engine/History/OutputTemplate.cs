using System.Text;
using System.Text.RegularExpressions;

namespace ExplainCluster.Engine.History;

/// <summary>
/// A job's <c>output</c> with placeholders, so one job file run every night writes a new folder each time instead of being
/// refused (or overwriting the last run): <c>{name}</c> (the job's name), <c>{date}</c> (UTC, yyyy-MM-dd), <c>{time}</c>
/// (UTC, HHmmss), <c>{model}</c> (the first 12 hex digits of the model file's sha256) and <c>{id}</c> (the job's id).
/// Expanded once, when the job starts, and recorded: a job that moves to another silo keeps the folder it began in.
/// </summary>
public static partial class OutputTemplate
{
    public static readonly string[] Names = ["name", "date", "time", "model", "id"];

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex Placeholder();

    /// <summary>Whether <paramref name="output"/> has any placeholder.</summary>
    public static bool HasPlaceholders(string output) => Placeholder().IsMatch(output);

    /// <summary>Whether the output names the model's hash, which has to be read before the job can start.</summary>
    public static bool NeedsModelHash(string output) => output.Contains("{model}", StringComparison.Ordinal);

    /// <summary>Every placeholder is one of <see cref="Names"/>; otherwise a one-line error naming it.</summary>
    public static void Check(string output)
    {
        foreach (Match m in Placeholder().Matches(output))
            if (!Names.Contains(m.Groups[1].Value))
                throw new ExplainException($"output: unknown placeholder {m.Value}; the placeholders are {string.Join(", ", Names.Select(n => "{" + n + "}"))}");
        if (output.Replace("{", "").Length != output.Replace("}", "").Length || Placeholder().Replace(output, "").IndexOfAny(['{', '}']) >= 0)
            throw new ExplainException($"output: unbalanced braces in {output}");
    }

    /// <summary>The output with its placeholders filled in; each value is made safe for a path (no '/' or spaces).</summary>
    public static string Expand(string output, string name, string jobId, DateTimeOffset started, string? modelSha256)
    {
        Check(output);
        var utc = started.UtcDateTime;
        return Placeholder().Replace(output, m => m.Groups[1].Value switch
        {
            "name" => Safe(name),
            "date" => utc.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            "time" => utc.ToString("HHmmss", System.Globalization.CultureInfo.InvariantCulture),
            "model" => modelSha256 is { Length: >= 12 } sha ? sha[..12] : throw new ArgumentException("{model} needs the model's sha256", nameof(modelSha256)),
            "id" => Safe(jobId),
            var other => throw new ExplainException($"output: unknown placeholder {{{other}}}"),
        });
    }

    /// <summary>
    /// The folder every expansion of <paramref name="output"/> lies under: the output itself without placeholders, else its
    /// part up to the last '/' before the first placeholder (so a run's local roots can allow it before it is expanded).
    /// </summary>
    public static string Root(string output)
    {
        var first = output.IndexOf('{');
        if (first < 0) return output;
        var slash = output.LastIndexOf('/', first);
        return slash <= 0 ? "/" : output[..slash];
    }

    /// <summary>A value as one path segment: letters, digits, '.', '-' and '_' kept, anything else '-'.</summary>
    private static string Safe(string value)
    {
        var safe = new StringBuilder(value.Length);
        foreach (var c in value) safe.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-');
        return safe.ToString().Trim('.') is { Length: > 0 } s ? s : "-";
    }
}
