namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A table file opened by its header (column names and row count), read by ranges of rows. A cell is null (missing),
/// a string, or a double (a numeric Parquet column).
/// </summary>
public interface ITableFile
{
    string[] Columns { get; }

    long Count { get; }

    /// <summary>The file's version when it was opened (<see cref="Storage.IBlob.VersionAsync"/>).</summary>
    string Version { get; }

    /// <summary>Rows <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> − 1 of the columns at <paramref name="columns"/>: one array per column.</summary>
    Task<object?[][]> ReadAsync(long start, int count, int[] columns, CancellationToken ct);
}
