namespace ExplainCluster.Engine;

/// <summary>The line of an unexpected exception's message that a job's error shows (the whole exception goes to the log).</summary>
public static class FaultText
{
    /// <summary>libtorch's text when a check fails with a message of its own on the lines after it.</summary>
    private const string TorchGeneric = "Expected false to be true, but got false.";

    /// <summary>
    /// The first line that says something: libtorch's generic first line of a failed check (and its "could this error message
    /// be improved" aside) is skipped for the line after it, and its C++ backtrace ("Exception raised from …", "frame #N")
    /// is never shown.
    /// </summary>
    public static string Line(Exception e)
    {
        var lines = e.Message.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToArray();
        if (lines.Length == 0) return e.GetType().Name;
        if (!lines[0].StartsWith(TorchGeneric, StringComparison.Ordinal)) return lines[0];
        var said = lines.Skip(1).FirstOrDefault(l => !l.StartsWith("Exception raised from", StringComparison.Ordinal) && !l.StartsWith("frame #", StringComparison.Ordinal));
        return said is null ? lines[0] : $"libtorch: {said}";
    }
}
