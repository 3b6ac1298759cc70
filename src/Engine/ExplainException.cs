using System.Globalization;
using System.Text;

namespace ExplainCluster.Engine;

/// <summary>
/// A problem with the job or its inputs, stated in one line for the user: control characters and line
/// separators that a message quotes from its input (a field name, a value) are escaped as in JSON. Messages
/// name locations, so their secrets (a SAS token in a URL's query, a key in a connection string) are redacted
/// here, once for every place a message goes: the job's error, logs, traces, <c>explain status</c>.
/// </summary>
public sealed class ExplainException(string message, Exception? inner = null) : Exception(Storage.Redaction.Text(OneLine(message)), inner)
{
    private static string OneLine(string message)
    {
        if (!message.Any(IsBreaking)) return message;
        var line = new StringBuilder(message.Length + 8);
        foreach (var c in message)
        {
            line.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when IsBreaking(c) => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
                _ => c.ToString(),
            });
        }
        return line.ToString();
    }

    private static bool IsBreaking(char c) => char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085';
}
