using System.Text.Json;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Cohorts;

/// <summary>
/// The job file's <c>cohorts</c>: the metadata columns (<c>data.metadata</c> of a table or an image manifest) whose values
/// the job reports cohorts by. Absent: every metadata column; <c>[]</c>: none.
/// </summary>
public static class CohortOptions
{
    /// <summary>The most cohorts a column shows: past it, the most frequent values and one "other" pooling the rest.</summary>
    public const int MaxValues = 20;

    /// <summary>
    /// The most distinct values a column may have to be a cohort column at all: past it (an identifier, a free-text field)
    /// the column's sums are dropped and the summary says so, so that a job's memory does not grow with its rows.
    /// </summary>
    public const int MaxDistinct = 1000;

    public static string[]? Read(JsonElement? element, DataSpec data)
    {
        if (element is not { } e) return null;
        if (e.ValueKind != JsonValueKind.Array || e.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
            throw new ExplainException("cohorts: expected an array of metadata column names, e.g. [\"site\"]");
        var names = e.EnumerateArray().Select(x => x.GetString()!).ToArray();
        var metadata = Metadata(data);
        if (names.Length > 0 && metadata.Length == 0)
            throw new ExplainException("cohorts: the job has no metadata columns; name them in data.metadata (a table's or an image manifest's columns)");
        for (var i = 0; i < names.Length; i++)
            if (!metadata.Contains(names[i], StringComparer.Ordinal))
                throw new ExplainException($"cohorts[{i}]: \"{names[i]}\" is not a metadata column (data.metadata: {string.Join(", ", metadata)})");
        return names.Distinct(StringComparer.Ordinal).Count() == names.Length ? names : throw new ExplainException("cohorts: a column is given twice");
    }

    /// <summary>The columns the job's cohorts are by: <c>cohorts</c>, or every metadata column.</summary>
    public static string[] Columns(JobSpec job) => job.Cohorts ?? Metadata(job.Data);

    private static string[] Metadata(DataSpec data) => data.Table?.Metadata ?? data.Images?.Metadata ?? [];
}
