using Parquet;

namespace ExplainCluster.Tests.Infrastructure;

public sealed record ParquetRows(long[] Index, int?[] Label, int[] Prediction, bool?[] Correct, string[] Columns)
{
    public static async Task<ParquetRows> ReadAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        using var group = reader.OpenRowGroupReader(0);
        var fields = reader.Schema.GetDataFields();
        var n = (int)group.RowCount;
        Parquet.Schema.DataField Field(string name) => fields.Single(f => f.Name == name);
        var index = new long[n];
        await group.ReadAsync(Field("index"), index.AsMemory());
        var label = new int?[n];
        await group.ReadAsync(Field("label"), label.AsMemory());
        var prediction = new int[n];
        await group.ReadAsync(Field("prediction"), prediction.AsMemory());
        var correct = new bool?[n];
        await group.ReadAsync(Field("correct"), correct.AsMemory());
        return new ParquetRows(index, label, prediction, correct, [.. fields.Select(f => f.Name)]);
    }

    /// <summary>One float column of a part, by name.</summary>
    public static async Task<float[]> ReadFloatsAsync(string path, string column)
    {
        var (reader, group, field) = await OpenColumnAsync(path, column);
        using (group) await using (reader)
        {
            var values = new float[(int)group.RowCount];
            await group.ReadAsync(field, values.AsMemory());
            return values;
        }
    }

    /// <summary>One nullable float column of a part (a method with a subset: null where it explained nothing).</summary>
    public static async Task<float?[]> ReadNullableFloatsAsync(string path, string column)
    {
        var (reader, group, field) = await OpenColumnAsync(path, column);
        using (group) await using (reader)
        {
            var values = new float?[(int)group.RowCount];
            await group.ReadAsync(field, values.AsMemory());
            return values;
        }
    }

    /// <summary>One text column of a part (metadata: null where missing).</summary>
    public static async Task<string?[]> ReadStringsAsync(string path, string column)
    {
        var (reader, group, field) = await OpenColumnAsync(path, column);
        using (group) await using (reader)
        {
            var values = new string?[(int)group.RowCount];
            await group.ReadAsync(field, values.AsMemory());
            return values;
        }
    }

    /// <summary>One int64 column of a part.</summary>
    public static async Task<long[]> ReadLongsAsync(string path, string column)
    {
        var (reader, group, field) = await OpenColumnAsync(path, column);
        using (group) await using (reader)
        {
            var values = new long[(int)group.RowCount];
            await group.ReadAsync(field, values.AsMemory());
            return values;
        }
    }

    /// <summary>One float column of a part, nullable or not (a method with a subset writes nullable columns).</summary>
    public static async Task<float?[]> ReadNullableFloatsOrFloatsAsync(string path, string column)
    {
        var (reader, group, field) = await OpenColumnAsync(path, column);
        await using (reader) using (group) { if (!field.IsNullable) return [.. (await ReadFloatsAsync(path, column)).Select(v => (float?)v)]; }
        return await ReadNullableFloatsAsync(path, column);
    }

    private static async Task<(ParquetReader Reader, ParquetRowGroupReader Group, Parquet.Schema.DataField Field)> OpenColumnAsync(string path, string column)
    {
        var reader = await ParquetReader.CreateAsync(File.OpenRead(path));
        return (reader, reader.OpenRowGroupReader(0), reader.Schema.GetDataFields().Single(f => f.Name == column));
    }
}
