using ExplainCluster.Engine.ErrorTree;
using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// <see cref="StagedParts"/> reads a staged attribution table and a samples part through ranged reads and the column-chunk reader:
/// what it gives must be, bit for bit, what Parquet.Net decodes from the same file, for a full method and a subset, and for the
/// codecs a writer may use.
/// </summary>
public sealed class StagedPartsTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("staged-parts-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(CompressionMethod.Snappy, 16384, 1)]   // a full method's table of a shard: every row, in order
    [InlineData(CompressionMethod.Snappy, 163, 97)]    // a subset's: a few rows, spread over the shard
    [InlineData(CompressionMethod.None, 1000, 3)]
    [InlineData(CompressionMethod.Gzip, 1000, 5)]
    public async Task Attributions_EqualParquetNetsDecode(CompressionMethod codec, int rows, int every)
    {
        string[] features = ["f0", "f1", "f2", "f3", "f4"];
        var random = new Random(rows);
        var index = Enumerable.Range(0, rows).Select(r => 1_000_000_000_000L + (long)r * every).ToArray();
        float[] specials = [float.NaN, 0f, -0f, float.PositiveInfinity, float.Epsilon, -3.25f, float.MaxValue];
        var columns = features.Select((_, j) => Enumerable.Range(0, rows)
            .Select(r => j == 0 && r < specials.Length ? specials[r] : (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-8, 8))).ToArray()).ToArray();
        var path = Path.Combine(_folder, $"attributions-{codec}-{rows}.parquet");
        var fields = new[] { (DataField)new DataField<long>("index") }.Concat(features.Select(f => new DataField<float>(f))).ToArray();
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream, new ParquetOptions { CompressionMethod = codec }))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync((DataField<long>)fields[0], new ReadOnlyMemory<long>(index));
            for (var j = 0; j < features.Length; j++) await group.WriteAsync(fields[j + 1], new ReadOnlyMemory<float>(columns[j]));
        }

        var staged = await ReadAsync(new LocalBlob(path), features);

        var (expectedIndex, expected) = await DecodeAsync(path, features);
        Assert.Equal(expectedIndex, staged.Index);
        Assert.Equal(index, staged.Index);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), staged.Values.Select(BitConverter.SingleToInt32Bits));
        Assert.Equal(columns[3][rows - 1], staged.Values[(rows - 1) * features.Length + 3]);
    }

    [Fact]
    public async Task Predictions_AreTheSamplesPartsPredictionColumn()
    {
        var path = Path.Combine(_folder, "samples.parquet");
        var predictions = Enumerable.Range(0, 5000).Select(r => r * 7919 % 13).ToArray();
        DataField[] fields = [new DataField<long>("index"), new DataField<int?>("label"), new DataField<int>("prediction"), new DataField<float>("confidence")];
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync((DataField<long>)fields[0], new ReadOnlyMemory<long>([.. Enumerable.Range(0, 5000).Select(r => (long)r)]));
            await group.WriteAsync((DataField<int?>)fields[1], new ReadOnlyMemory<int?>([.. predictions.Select((p, r) => r % 4 == 0 ? null : (int?)(12 - p))]));
            await group.WriteAsync((DataField<int>)fields[2], new ReadOnlyMemory<int>(predictions));
            await group.WriteAsync((DataField<float>)fields[3], new ReadOnlyMemory<float>([.. predictions.Select(p => p / 13f)]));
        }

        Assert.Equal(predictions.Select(p => (long)p), await StagedParts.PredictionsAsync(new LocalBlob(path), CancellationToken.None));
    }

    [Fact]
    public async Task AMissingPart_IsAnIOErrorNamingIt()
    {
        var error = await Assert.ThrowsAsync<IOException>(() =>
            ReadAsync(new LocalBlob(Path.Combine(_folder, "gone.parquet")), ["f0"]));
        Assert.Contains("gone.parquet is missing", error.Message);
    }

    /// <summary>The table as the tree pass reads it (<see cref="StagedParts.ColumnsAsync"/>, a column at a time), gathered row-major.</summary>
    private static async Task<StagedAttributions> ReadAsync(IBlob part, string[] features)
    {
        long[] index = [];
        float[] values = [];
        await StagedParts.ColumnsAsync(part, features, (j, column) =>
        {
            if (j < 0)
            {
                index = [.. column.ToArray().Select(v => (long)v)];
                values = new float[column.Length * features.Length];
            }
            else
                for (var r = 0; r < column.Length; r++) values[r * features.Length + j] = (float)column[r];
        }, CancellationToken.None);
        return new StagedAttributions(index, values);
    }

    /// <summary>The other path: Parquet.Net reads the file whole, row-major as StagedParts gives it.</summary>
    private static async Task<(long[] Index, float[] Values)> DecodeAsync(string path, string[] features)
    {
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        using var group = reader.OpenRowGroupReader(0);
        var rows = (int)group.RowCount;
        var fields = reader.Schema.GetDataFields();
        var index = new long[rows];
        await group.ReadAsync(fields[0], index.AsMemory());
        var values = new float[rows * features.Length];
        for (var j = 0; j < features.Length; j++)
        {
            var column = new float[rows];
            await group.ReadAsync(fields.Single(f => f.Name == features[j]), column.AsMemory());
            for (var r = 0; r < rows; r++) values[r * features.Length + j] = column[r];
        }
        return (index, values);
    }
}
