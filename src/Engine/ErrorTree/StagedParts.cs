using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.ErrorTree;

/// <summary>What the tree pass reads of an explain attempt's staged parts: each row's prediction, and a method's per-feature attributions.</summary>
public static class StagedParts
{
    /// <summary>The samples part's <c>prediction</c> column, in row order.</summary>
    public static async Task<long[]> PredictionsAsync(IBlob part, CancellationToken ct)
    {
        await using var reader = await OpenAsync(part, ct);
        using var group = reader.OpenRowGroupReader(0);
        var values = new int[(int)group.RowCount];
        await group.ReadAsync(Field(reader, part, "prediction"), values.AsMemory(), cancellationToken: ct);
        return [.. values.Select(v => (long)v)];
    }

    /// <summary>A method's attribution table (<see cref="Output.OutputLayout.AttributionTable"/>): its rows' dataset indices and the features' columns, row-major.</summary>
    public static async Task<StagedAttributions> AttributionsAsync(IBlob part, string[] features, CancellationToken ct)
    {
        await using var reader = await OpenAsync(part, ct);
        using var group = reader.OpenRowGroupReader(0);
        var rows = (int)group.RowCount;
        var index = new long[rows];
        await group.ReadAsync(Field(reader, part, "index"), index.AsMemory(), cancellationToken: ct);
        var values = new float[(long)rows * features.Length];
        var column = new float[rows];
        for (var j = 0; j < features.Length; j++)
        {
            await group.ReadAsync(Field(reader, part, features[j]), column.AsMemory(), cancellationToken: ct);
            for (var r = 0; r < rows; r++) values[(long)r * features.Length + j] = column[r];
        }
        return new StagedAttributions(index, values);
    }

    private static async Task<ParquetReader> OpenAsync(IBlob part, CancellationToken ct)
    {
        if (!await part.ExistsAsync(ct)) throw new IOException($"{Redaction.Location(part.Location)} is missing: the explain attempt's staged part");
        var bytes = await part.ReadRangeAsync(0, checked((int)await part.LengthAsync(ct)), ct);
        return await ParquetReader.CreateAsync(new MemoryStream(bytes, writable: false), cancellationToken: ct);
    }

    private static DataField Field(ParquetReader reader, IBlob part, string name) =>
        reader.Schema.GetDataFields().FirstOrDefault(f => f.Name == name)
        ?? throw new IOException($"{Redaction.Location(part.Location)} has no column {name}");
}
