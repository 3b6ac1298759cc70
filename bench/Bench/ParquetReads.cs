using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Storage;

/// <summary>
/// What a table job's two kinds of Parquet read cost with the build at hand (run two builds in alternation to compare them):
/// (a) a shard's read, <c>ParquetTable.ReadColumnsAsync</c> of 16,384 rows of every column from a row group no read has decoded
/// yet (a new <see cref="RowGroupCache"/> each read, so the group is decoded and kept, as a shard's first read of it is); (b)
/// kernel-shap's background as a silo reads it, BACKGROUND rows spread evenly over the table, each its own read of one row (as
/// <c>Dataset.ReadRowsAsync</c> reads rows 256 or more apart) through one new cache a round. Bytes are all the process allocated
/// during the reads; large objects come from the runtime's sampled allocation-tick events over further rounds. Each part prints a
/// checksum of the cells read, so that two builds can be seen to read the same values.
///   dotnet run --project bench/Bench -c Release -- parquet-reads TABLE.parquet [ROUNDS=20] [BACKGROUND=20]
/// </summary>
public static class ParquetReads
{
    private const int ShardRows = 16384;

    public static async Task RunAsync(string[] args)
    {
        if (args.Length < 1) throw new ArgumentException("usage: parquet-reads TABLE.parquet [ROUNDS] [BACKGROUND]");
        var blob = new LocalBlob(Path.GetFullPath(args[0]));
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
        var backgroundRows = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
        var length = await blob.LengthAsync();
        var probe = await ParquetTable.OpenAsync(blob, length, CancellationToken.None, new RowGroupCache());
        int[] columns = [.. Enumerable.Range(0, probe.Columns.Length)];
        // Spread evenly, off the groups' first rows.
        long[] background = [.. Enumerable.Range(0, backgroundRows).Select(i => (2 * i + 1) * probe.Count / (2 * backgroundRows) + 7)];

        async Task<ulong> ShardAsync(int round)
        {
            var table = await ParquetTable.OpenAsync(blob, length, CancellationToken.None, new RowGroupCache());
            var start = (long)round * ShardRows % Math.Max(1, probe.Count - ShardRows);
            return Checksum(await table.ReadColumnsAsync(start, ShardRows, columns, CancellationToken.None));
        }

        async Task<ulong> BackgroundAsync(int round)
        {
            var table = await ParquetTable.OpenAsync(blob, length, CancellationToken.None, new RowGroupCache());
            var sum = 0UL;
            foreach (var row in background) sum = sum * 31 + Checksum(await table.ReadColumnsAsync(row, 1, columns, CancellationToken.None));
            return sum;
        }

        Console.WriteLine($"{blob.Location}: {probe.Count} rows × {columns.Length} columns; {rounds} rounds after two of warm-up; medians");
        Console.WriteLine("read                               allocated (MB)   wall (ms)   large objects (MB)   checksum");
        await MeasureAsync($"shard: {ShardRows} rows", rounds, ShardAsync);
        await MeasureAsync($"background: {backgroundRows} rows, 1 a read", rounds, BackgroundAsync);
    }

    private static async Task MeasureAsync(string what, int rounds, Func<int, Task<ulong>> read)
    {
        var (bytes, times, checksums) = (new List<double>(), new List<double>(), new HashSet<ulong>());
        for (var round = -2; round < rounds; round++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            var checksum = await read(Math.Max(round, 0));
            clock.Stop();
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
            checksums.Add(checksum);
            if (round < 0) continue;
            bytes.Add(allocated / 1e6);
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        // The shard read's start moves with the round; its checksum is of round 0's rows (read three times, warm-up included).
        using var ticks = new AllocationTicks();
        await Task.Delay(2000);
        var from = ticks.Large;
        for (var round = 0; round < rounds; round++) await read(round);
        await Task.Delay(2000);
        var large = (ticks.Large - from) / 1e6 / rounds;
        static double Median(List<double> x) => x.Order().ElementAt(x.Count / 2);
        Console.WriteLine($"{what,-34} {Median(bytes),14:F2}   {Median(times),9:F1}   {large,18:F1}   {checksums.First():x16}");
    }

    /// <summary>FNV-1a over the cells: missing or not, a number's bits, a text's characters.</summary>
    private static ulong Checksum(ColumnCells[] cells)
    {
        var hash = 14695981039346656037UL;
        void Add(ulong x) => hash = (hash ^ x) * 1099511628211UL;
        foreach (var column in cells)
            for (var r = 0; r < column.Count; r++)
            {
                if (column.IsMissing(r)) Add(1);
                else if (column.TryNumber(r, out var x)) Add((ulong)BitConverter.DoubleToInt64Bits(x));
                else foreach (var ch in column.Text(r)) Add(ch);
            }
        return hash;
    }
}
