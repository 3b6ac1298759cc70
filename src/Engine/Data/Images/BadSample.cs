namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// An image that could not be read or decoded (<c>"onBadSample": "skip"</c>): its dataset index, its location, what kind of
/// problem it has (<see cref="Kinds"/>) and the reason as the one-line error states it, without the location.
/// </summary>
public sealed record BadSample(long Index, string Location, string Kind, string Reason)
{
    /// <summary>Every kind, in the order summaries list them.</summary>
    public static readonly string[] Kinds = ["missing", "empty", "unreadable", "oversize", "truncated", "corrupt", "unsupported"];

    private const string KindKey = "ExplainCluster.BadSample.Kind";
    private const string ReasonKey = "ExplainCluster.BadSample.Reason";

    /// <summary>
    /// The one-line error for a bad image (<c>LOCATION: reason</c>, what <c>"fail"</c> shows), marked with its kind so that
    /// <c>"skip"</c> can record it; an error without the mark (a transform that gives another size) is the job's, never skipped.
    /// </summary>
    public static ExplainException Error(string location, string kind, string reason, Exception? inner = null)
    {
        var error = new ExplainException($"{location}: {reason}", inner);
        error.Data[KindKey] = kind;
        error.Data[ReasonKey] = reason;
        return error;
    }

    /// <summary>The bad sample <paramref name="error"/> describes; null when it is not a bad image's error.</summary>
    public static BadSample? Of(ExplainException error, long index, string location) =>
        error.Data[KindKey] is string kind ? new BadSample(index, location, kind, (string)error.Data[ReasonKey]!) : null;
}
