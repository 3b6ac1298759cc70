using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.Output;

/// <summary>
/// Adds float columns to a written parquet part (one row group), replacing any of the same names, so a pass that
/// runs after the part was written (the embedding's post pass) can put its per-sample values beside the others. The pass
/// stages its columns on their own (<see cref="WriteAsync"/>); the job joins them to the part once, when it completes.
/// </summary>
public static class ParquetColumns
{
    /// <summary>A parquet file (one row group) of nullable float columns only: a pass's per-sample values, staged apart.</summary>
    public static async Task<byte[]> WriteAsync(IReadOnlyList<(string Name, float?[] Values)> columns, CancellationToken ct = default)
    {
        var fields = columns.Select(c => new DataField<float?>(c.Name)).ToArray();
        using var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), output, cancellationToken: ct))
        {
            using var group = writer.CreateRowGroup();
            for (var i = 0; i < fields.Length; i++) await group.WriteAsync(fields[i], new ReadOnlyMemory<float?>(columns[i].Values), cancellationToken: ct);
        }
        return output.ToArray();
    }

    /// <summary>The columns <see cref="WriteAsync"/> wrote, in order, with their values as written.</summary>
    public static async Task<(string Name, float?[] Values)[]> ReadAsync(byte[] file, CancellationToken ct = default)
    {
        using var input = new MemoryStream(file);
        await using var reader = await ParquetReader.CreateAsync(input, cancellationToken: ct);
        using var group = reader.OpenRowGroupReader(0);
        var columns = new List<(string, float?[])>();
        foreach (var field in reader.Schema.GetDataFields())
        {
            if (field.ClrType != typeof(float) || !field.IsNullable) throw new NotSupportedException($"parquet column {field.Name}: staged columns are nullable floats");
            var values = new float?[(int)group.RowCount];
            await group.ReadAsync(field, values.AsMemory(), cancellationToken: ct);
            columns.Add((field.Name, values));
        }
        return [.. columns];
    }

    public static async Task<byte[]> WithAsync(byte[] part, IReadOnlyList<(string Name, float?[] Values)> columns, CancellationToken ct = default)
    {
        using var input = new MemoryStream(part);
        await using var reader = await ParquetReader.CreateAsync(input, cancellationToken: ct);
        using var group = reader.OpenRowGroupReader(0);
        var rows = (int)group.RowCount;
        var names = columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var kept = reader.Schema.GetDataFields().Where(f => !names.Contains(f.Name)).ToArray();
        var added = columns.Select(c => (Field: new DataField<float?>(c.Name), c.Values)).ToArray();
        foreach (var (name, values) in columns)
            if (values.Length != rows) throw new ArgumentException($"column {name} has {values.Length} values for {rows} rows", nameof(columns));
        var copies = kept.Select(f => new DataField(f.Name, f.ClrType, f.IsNullable)).ToArray();
        var schema = new ParquetSchema([.. copies, .. added.Select(a => (Field)a.Field)]);

        using var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, output, cancellationToken: ct))
        {
            using var target = writer.CreateRowGroup();
            for (var i = 0; i < kept.Length; i++) await CopyAsync(group, kept[i], target, copies[i], rows, ct);
            foreach (var (field, values) in added) await target.WriteAsync(field, new ReadOnlyMemory<float?>(values), cancellationToken: ct);
        }
        return output.ToArray();
    }

    /// <summary>One column, by its CLR type: the types the shard parts hold.</summary>
    private static Task CopyAsync(ParquetRowGroupReader from, DataField field, ParquetRowGroupWriter to, DataField copy, int rows, CancellationToken ct) =>
        (field.ClrType, field.IsNullable) switch
        {
            (var t, false) when t == typeof(long) => CopyAsync<long>(from, field, to, copy, rows, ct),
            (var t, true) when t == typeof(long) => CopyNullableAsync<long>(from, field, to, copy, rows, ct),
            (var t, false) when t == typeof(int) => CopyAsync<int>(from, field, to, copy, rows, ct),
            (var t, true) when t == typeof(int) => CopyNullableAsync<int>(from, field, to, copy, rows, ct),
            (var t, false) when t == typeof(float) => CopyAsync<float>(from, field, to, copy, rows, ct),
            (var t, true) when t == typeof(float) => CopyNullableAsync<float>(from, field, to, copy, rows, ct),
            (var t, false) when t == typeof(bool) => CopyAsync<bool>(from, field, to, copy, rows, ct),
            (var t, true) when t == typeof(bool) => CopyNullableAsync<bool>(from, field, to, copy, rows, ct),
            _ => throw new NotSupportedException($"parquet column {field.Name} of type {field.ClrType.Name}"),
        };

    private static async Task CopyAsync<T>(ParquetRowGroupReader from, DataField field, ParquetRowGroupWriter to, DataField copy, int rows, CancellationToken ct)
        where T : struct
    {
        var values = new T[rows];
        await from.ReadAsync(field, values.AsMemory(), cancellationToken: ct);
        await to.WriteAsync(copy, new ReadOnlyMemory<T>(values), cancellationToken: ct);
    }

    private static async Task CopyNullableAsync<T>(ParquetRowGroupReader from, DataField field, ParquetRowGroupWriter to, DataField copy, int rows, CancellationToken ct)
        where T : struct
    {
        var values = new T?[rows];
        await from.ReadAsync(field, values.AsMemory(), cancellationToken: ct);
        await to.WriteAsync(copy, new ReadOnlyMemory<T?>(values), cancellationToken: ct);
    }
}
