using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;
using Parquet;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// Parquet row groups that shards read in part are decoded once per silo (<see cref="RowGroupCache"/>): the cells are those an
/// uncached read gives, each group is decoded once however many shards read it, and a file replaced between jobs is read anew.
/// </summary>
public sealed class RowGroupCacheTests
{
    /// <summary>credit_data (4,454 rows, 14 columns of numbers and text, with missing values) in groups of 700.</summary>
    private static async Task<string> CreditParquetAsync(string folder) =>
        await TableFiles.ParquetOfAsync(TableFiles.Credit, Path.Combine(folder, "credit.parquet"), rowGroup: 700);

    private static async Task<ParquetTable> OpenAsync(string path, RowGroupCache cache)
    {
        var blob = new LocalBlob(path);
        return await ParquetTable.OpenAsync(blob, await blob.LengthAsync(), CancellationToken.None, cache);
    }

    [Fact]
    public async Task ShardsInsideGroups_ReadWhatAnUncachedTableReads_EachGroupDecodedOnce()
    {
        var path = await CreditParquetAsync(TestPaths.NewFolder());
        var (cache, none) = (new RowGroupCache(), new RowGroupCache(groups: 0));
        var (cached, uncached) = (await OpenAsync(path, cache), await OpenAsync(path, none));
        int[] columns = [.. Enumerable.Range(0, cached.Columns.Length)];
        // Shards of 300 rows: most lie inside a group, some straddle two; the last, 4,200–4,453, is the last group whole.
        for (long start = 0; start < cached.Count; start += 300)
        {
            var count = (int)Math.Min(300, cached.Count - start);
            var a = await cached.ReadAsync(start, count, columns, CancellationToken.None);
            var b = await uncached.ReadAsync(start, count, columns, CancellationToken.None);
            for (var c = 0; c < columns.Length; c++) Assert.Equal(b[c], a[c]);
        }
        Assert.Equal(6, cache.Decodes); // 4,454 rows in groups of 700: the 6 read in part, each once; the seventh, read whole, is not kept
        Assert.Equal(0, none.Decodes);
        Assert.Contains(await cached.ReadAsync(0, 4454, columns, CancellationToken.None), column => column.Any(cell => cell is null));
    }

    [Fact]
    public async Task ShardsOfOneGroupAtOnce_OneDecode()
    {
        var path = await CreditParquetAsync(TestPaths.NewFolder());
        var (cache, none) = (new RowGroupCache(), new RowGroupCache(groups: 0));
        var (cached, uncached) = (await OpenAsync(path, cache), await OpenAsync(path, none));
        int[] columns = [0, 3, 5, 13];
        var reads = await Task.WhenAll(Enumerable.Range(0, 7).Select(i => Task.Run(() => cached.ReadAsync(700 + i * 100, 100, columns, CancellationToken.None))));
        Assert.Equal(1, cache.Decodes);
        for (var i = 0; i < 7; i++)
        {
            var expected = await uncached.ReadAsync(700 + i * 100, 100, columns, CancellationToken.None);
            for (var c = 0; c < columns.Length; c++) Assert.Equal(expected[c], reads[i][c]);
        }
    }

    [Fact]
    public async Task FileReplacedBetweenJobs_ReadAnew()
    {
        var folder = TestPaths.NewFolder();
        var path = await CreditParquetAsync(folder);
        var cache = new RowGroupCache();
        var before = await (await OpenAsync(path, cache)).ReadAsync(10, 100, [0, 1], CancellationToken.None);
        // The same rows in reverse order: same shape, other values.
        var csv = File.ReadAllLines(TableFiles.Credit);
        var reversed = Path.Combine(folder, "reversed.csv");
        File.WriteAllLines(reversed, [csv[0], .. csv.Skip(1).Reverse()]);
        await TableFiles.ParquetOfAsync(reversed, path, rowGroup: 700);
        File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1)); // a clock too coarse to tell them apart is not the test
        var after = await (await OpenAsync(path, cache)).ReadAsync(10, 100, [0, 1], CancellationToken.None);
        var expected = await (await OpenAsync(path, new RowGroupCache(groups: 0))).ReadAsync(10, 100, [0, 1], CancellationToken.None);
        Assert.Equal(expected[0], after[0]);
        Assert.Equal(expected[1], after[1]);
        Assert.NotEqual(before[1], after[1]);
        Assert.Equal(2, cache.Decodes);
    }

    [Fact]
    public async Task GroupsUsedLast_AreKept_OthersDecodedAgain()
    {
        var path = await CreditParquetAsync(TestPaths.NewFolder());
        var cache = new RowGroupCache(groups: 2);
        var table = await OpenAsync(path, cache);
        foreach (var start in new long[] { 0, 700, 100, 1400, 800, 200 })
            await table.ReadAsync(start, 100, [0], CancellationToken.None);
        // 0 decodes group 0, 700 group 1, 100 hits 0, 1400 decodes 2 and drops 1, 800 decodes 1 again and drops 0, 200 decodes 0.
        Assert.Equal(5, cache.Decodes);
    }

    [Fact]
    public async Task GroupsOverTheirShareOfTheBytes_AreNotKept()
    {
        var path = await CreditParquetAsync(TestPaths.NewFolder());
        // Two numeric columns (Seniority, Time) of a group: 700 rows × 9 bytes each = 12,600 bytes, against a share of 12,599 and of 12,600.
        var (under, at) = (new RowGroupCache(groups: 2, maxBytes: 25_198), new RowGroupCache(groups: 2, maxBytes: 25_200));
        var (a, b) = (await OpenAsync(path, under), await OpenAsync(path, at));
        Assert.Equal(await b.ReadAsync(100, 300, [1, 3], CancellationToken.None), await a.ReadAsync(100, 300, [1, 3], CancellationToken.None));
        Assert.Equal((0, 1), (under.Decodes, at.Decodes));
    }

    [Fact]
    public async Task ReadsOfAFewRows_UseAKeptGroup_AndDisplaceNone()
    {
        var path = await CreditParquetAsync(TestPaths.NewFolder());
        var (cache, none) = (new RowGroupCache(groups: 1), new RowGroupCache(groups: 0));
        var (table, uncached) = (await OpenAsync(path, cache), await OpenAsync(path, none));
        await table.ReadAsync(0, 300, [0, 2], CancellationToken.None);
        // Background rows as kernel-shap reads them: one row here and there, in groups 0, 1 and 5.
        foreach (var row in new long[] { 10, 800, 3600, 650 })
            Assert.Equal(await uncached.ReadAsync(row, 1, [0, 2], CancellationToken.None), await table.ReadAsync(row, 1, [0, 2], CancellationToken.None));
        await table.ReadAsync(300, 300, [0, 2], CancellationToken.None);
        Assert.Equal(1, cache.Decodes); // group 0, kept through the reads of one row
    }

    /// <summary>16 groups of 500 rows of <see cref="ColumnChunkReaderTests.WriteAsync"/>'s 12 columns (numbers and text, nulls).</summary>
    private static Task<string> SixteenGroupsAsync(string folder, int group = 500) =>
        ColumnChunkReaderTests.WriteAsync(Path.Combine(folder, "t.parquet"), rows: 16 * group, group, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy });

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public async Task FewRowReadsAcrossGroups_EqualTheRowsOfAWholeRead(bool cached, bool own)
    {
        var path = await SixteenGroupsAsync(TestPaths.NewFolder());
        var cache = new RowGroupCache(groups: cached ? 2 : 0);
        var table = await OpenAsync(path, cache);
        table.OwnChunkReader = own;
        int[] columns = [.. Enumerable.Range(0, table.Columns.Length)];
        var whole = await (await OpenAsync(path, new RowGroupCache(groups: 0))).ReadColumnsAsync(0, 8_000, columns, CancellationToken.None);
        // Group 3 read in part first, so that with the cache on it is kept and the reads of a few of its rows are views of it.
        await table.ReadColumnsAsync(1_600, 300, columns, CancellationToken.None);
        // Kernel-shap's background: a row here and there over every group; and a few rows across a group's end.
        var reads = Enumerable.Range(0, 20).Select(i => (Start: i * 8_000L / 20 + 7 * i, Count: 1)).Append((1_498, 3)).Append((1_999, 2)).Append((7_990, 10));
        foreach (var (start, count) in reads)
        {
            var cells = await table.ReadColumnsAsync(start, count, columns, CancellationToken.None);
            for (var c = 0; c < columns.Length; c++)
                ColumnChunkReaderTests.AssertSame(new ColumnCells(whole[c].Column, (int)start, count), cells[c], $"{table.Columns[c]} at {start}");
        }
        Assert.Equal(cached ? 1 : 0, cache.Decodes); // group 3, for the read of 300 rows; the reads of a few rows keep none
        if (own) Assert.Equal((0, 0), (table.ReadersOpened, table.ChunksDecoded.ParquetNet));
    }

    [Fact]
    public async Task FewRowReadsAcrossGroups_AllocateLessThanOneGroupDecoded()
    {
        // The shape of a table job's table (synthetic-table: 30 doubles, a long, a text column), 16 groups of 4,096 rows, in a
        // blob read synchronously, so that the whole read runs on this thread and its allocations are this thread's.
        var bytes = await WideTableAsync(groups: 16, group: 4_096);
        var blob = new MemoryBlob(bytes);
        async Task<ParquetTable> OpenAsync() => await ParquetTable.OpenAsync(blob, bytes.Length, CancellationToken.None, new RowGroupCache(groups: 2));
        int[] columns = [.. Enumerable.Range(0, 32)];
        long[] rows = [.. Enumerable.Range(0, 20).Select(i => i * 16L * 4_096 / 20 + 11)];
        long Allocated(ParquetTable table, Func<ParquetTable, Task> read)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var task = read(table);
            var after = GC.GetAllocatedBytesForCurrentThread();
            Assert.True(task.IsCompletedSuccessfully); // ran here, at once
            return after - before;
        }
        async Task BackgroundAsync(ParquetTable table)
        {
            foreach (var row in rows) await table.ReadColumnsAsync(row, 1, columns, CancellationToken.None);
        }
        Allocated(await OpenAsync(), BackgroundAsync); // code paths run once before
        var background = Allocated(await OpenAsync(), BackgroundAsync);
        // One group's 31 numeric columns and its text column decoded (doubles, and references to strings): what each of the 16
        // groups took before, for one row.
        var group = 4_096L * 32 * 8;
        Assert.True(background < group, $"20 rows over 16 groups allocated {background} bytes; one group decoded is {group}");
        // And the measure sees a decode: a group read whole allocates its columns.
        var whole = Allocated(await OpenAsync(), table => table.ReadColumnsAsync(4_096, 4_096, columns, CancellationToken.None));
        Assert.True(whole > group, $"a group read whole allocated {whole} bytes");
    }

    /// <summary>30 doubles (every seventh value of f00 null), a long and a text column of five values, Snappy, in memory.</summary>
    private static async Task<byte[]> WideTableAsync(int groups, int group)
    {
        Parquet.Schema.DataField[] fields =
            [new Parquet.Schema.DataField<double?>("f00"), .. Enumerable.Range(1, 29).Select(j => new Parquet.Schema.DataField<double>($"f{j:D2}")),
             new Parquet.Schema.DataField<long>("label"), new Parquet.Schema.DataField<string>("region")];
        string[] regions = ["north", "south", "", "wèst", "centre"];
        var random = new Random(5);
        using var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(fields), stream))
            for (var g = 0; g < groups; g++)
            {
                using var rowGroup = writer.CreateRowGroup();
                await rowGroup.WriteAsync(fields[0], new ReadOnlyMemory<double?>([.. Enumerable.Range(0, group).Select(r => r % 7 == 0 ? null : (double?)random.NextDouble())]));
                for (var j = 1; j < 30; j++) await rowGroup.WriteAsync(fields[j], new ReadOnlyMemory<double>([.. Enumerable.Range(0, group).Select(_ => random.NextDouble())]));
                await rowGroup.WriteAsync(fields[30], new ReadOnlyMemory<long>([.. Enumerable.Range(0, group).Select(r => (long)(r % 2))]));
                await rowGroup.WriteAsync(fields[31], Enumerable.Range(0, group).Select(_ => regions[random.Next(regions.Length)]).ToArray());
            }
        return stream.ToArray();
    }
}
