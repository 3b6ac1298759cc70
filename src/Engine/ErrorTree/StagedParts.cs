using System.Numerics;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>
/// What the tree pass reads of an explain attempt's staged parts: each row's prediction, and a method's per-feature attributions.
/// Read at every level of the tree, so through ranged reads of the footer and of the columns needed, decoded by
/// <see cref="ColumnChunkReader"/> into one buffer (Parquet.Net where it does not decode a chunk): reading a part whole and
/// decoding it with Parquet.Net made about 15 MB of large-object garbage per method, shard and level (docs/benchmarks.md).
/// </summary>
public static class StagedParts
{
    /// <summary>The samples part's <c>prediction</c> column, in row order.</summary>
    public static async Task<long[]> PredictionsAsync(IBlob part, CancellationToken ct)
    {
        var length = await LengthAsync(part, ct);
        await using var reader = await ParquetReader.CreateAsync(new BlobStream(part, length), cancellationToken: ct);
        using var group = reader.OpenRowGroupReader(0);
        var rows = (int)group.RowCount;
        return await WithBuffersAsync(rows, async (chunks, column) =>
        {
            await ColumnAsync<int>(group, Field(reader, part, "prediction"), part, length, chunks, column, rows, ct);
            var predictions = new long[rows];
            for (var r = 0; r < rows; r++) predictions[r] = (long)column[r];
            return predictions;
        });
    }

    /// <summary>A column of a staged attribution table as it is read: <paramref name="column"/> −1 is the rows' dataset indices, j ≥ 0 feature j.</summary>
    public delegate void ColumnSink(int column, ReadOnlySpan<double> values);

    /// <summary>
    /// A method's attribution table (<see cref="Output.OutputLayout.AttributionTable"/>) a column at a time, through one buffer: its
    /// rows' dataset indices, then each feature's values in the order of <paramref name="features"/> (as doubles: exact for both).
    /// </summary>
    public static async Task ColumnsAsync(IBlob part, string[] features, ColumnSink sink, CancellationToken ct)
    {
        var length = await LengthAsync(part, ct);
        await using var reader = await ParquetReader.CreateAsync(new BlobStream(part, length), cancellationToken: ct);
        using var group = reader.OpenRowGroupReader(0);
        var rows = (int)group.RowCount;
        await WithBuffersAsync(rows, async (chunks, column) =>
        {
            await ColumnAsync<long>(group, Field(reader, part, "index"), part, length, chunks, column, rows, ct);
            sink(-1, column.AsSpan(0, rows));
            for (var j = 0; j < features.Length; j++)
            {
                await ColumnAsync<float>(group, Field(reader, part, features[j]), part, length, chunks, column, rows, ct);
                sink(j, column.AsSpan(0, rows));
            }
            return true;
        });
    }

    /// <summary>
    /// <paramref name="read"/> with a decoder and a column of at least <paramref name="rows"/> kept from one read of a part to the next
    /// (a shard's tree level reads a part per method): the spare decoder or a new one, and a column rented from the shared pool.
    /// </summary>
    private static async Task<T> WithBuffersAsync<T>(int rows, Func<ColumnChunkReader, double[], Task<T>> read)
    {
        var chunks = Interlocked.Exchange(ref _spare, null) ?? new ColumnChunkReader();
        var column = System.Buffers.ArrayPool<double>.Shared.Rent(rows);
        try
        {
            var result = await read(chunks, column);
            Volatile.Write(ref _spare, chunks); // only a read that ended well leaves its decoder
            return result;
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(column);
        }
    }

    /// <summary>A decoder no read is using (reads run on several threads: each takes it or makes its own, and leaves its own when it ends well).</summary>
    private static ColumnChunkReader? _spare;

    /// <summary>
    /// A column the explain pass wrote (no nulls) into <paramref name="into"/>'s first <paramref name="rows"/>, as doubles (exact for
    /// its floats, ints and dataset indices).
    /// </summary>
    private static async Task ColumnAsync<T>(ParquetRowGroupReader group, DataField field, IBlob part, long length, ColumnChunkReader chunks, double[] into,
        int rows, CancellationToken ct)
        where T : struct, INumberBase<T>
    {
        if ((await chunks.ReadIntoAsync(part, length, group.GetMetadata(field), field, into, rows, ct)).Read) return;
        var values = new T[rows];
        await group.ReadAsync(field, values.AsMemory(), cancellationToken: ct);
        for (var r = 0; r < rows; r++) into[r] = double.CreateTruncating(values[r]);
    }

    private static async Task<long> LengthAsync(IBlob part, CancellationToken ct) =>
        (await part.StatAsync(ct))?.Length ?? throw new IOException($"{Redaction.Location(part.Location)} is missing: the explain attempt's staged part");

    private static DataField Field(ParquetReader reader, IBlob part, string name) =>
        reader.Schema.GetDataFields().FirstOrDefault(f => f.Name == name)
        ?? throw new IOException($"{Redaction.Location(part.Location)} has no column {name}");
}
