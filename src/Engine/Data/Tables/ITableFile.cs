namespace ExplainCluster.Engine.Data.Tables;

/// <summary>
/// A table file opened by its header (column names and row count), read by ranges of rows. A cell is missing, text, or a
/// number (a numeric Parquet column).
/// </summary>
public interface ITableFile
{
    string[] Columns { get; }

    long Count { get; }

    /// <summary>The file's version when it was opened (<see cref="Storage.IBlob.VersionAsync"/>).</summary>
    string Version { get; }

    /// <summary>Rows <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> − 1 of the columns at <paramref name="columns"/>: one per column.</summary>
    Task<ColumnCells[]> ReadColumnsAsync(long start, int count, int[] columns, CancellationToken ct);
}

public static class TableFileReads
{
    /// <summary>
    /// <see cref="ITableFile.ReadColumnsAsync"/> as one array of cells per column: null (missing), a string, or a double. Boxes
    /// every cell: for tests and tools that compare reads, not for a shard's rows.
    /// </summary>
    public static async Task<object?[][]> ReadAsync(this ITableFile table, long start, int count, int[] columns, CancellationToken ct) =>
        [.. (await table.ReadColumnsAsync(start, count, columns, ct)).Select(c => Enumerable.Range(0, c.Count).Select(c.Cell).ToArray())];
}
