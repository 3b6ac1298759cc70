namespace ExplainCluster.Engine.Storage;

/// <summary>
/// Storage errors that will not heal by trying again: a full disk or quota, a read-only file system, a permission the
/// process lacks. A job that meets one fails at once, in one line that names the location and the cause in words,
/// instead of retrying each shard as if the store might recover (a lost connection or a timeout still is retried).
/// </summary>
public static class StorageFault
{
    // errno values as .NET carries them in IOException.HResult on Linux (Interop.GetExceptionForIoErrno).
    private const int Eacces = 13, Enospc = 28, Erofs = 30, Edquot = 122;

    /// <summary>The cause in words ("no space left on device"), or null for a fault that may heal or is not storage's.</summary>
    public static string? Cause(Exception e) => e switch
    {
        // EACCES and EPERM: .NET raises these as UnauthorizedAccessException.
        UnauthorizedAccessException => "permission denied",
        IOException { HResult: Enospc } => "no space left on device",
        IOException { HResult: Edquot } => "disk quota exceeded",
        IOException { HResult: Erofs } => "read-only file system",
        IOException { HResult: Eacces } => "permission denied",
        Azure.RequestFailedException { Status: 403 } => "permission denied",
        _ => null,
    };

    /// <summary>
    /// Runs <paramref name="write"/>, a write to the job's output; a fault that will not heal becomes one line,
    /// <c>output LOCATION: CAUSE (DOING)</c>, as an <see cref="ExplainException"/> (not retried). Others pass unchanged.
    /// </summary>
    /// <param name="doing">What was being written, for the line: "writing shard 2".</param>
    public static async Task WritingAsync(string output, string doing, Func<Task> write)
    {
        try { await write(); }
        catch (Exception e) when (Cause(e) is { } cause)
        {
            throw new ExplainException($"output {output}: {cause} ({doing})", e);
        }
    }
}
