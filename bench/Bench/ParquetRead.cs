using System.Diagnostics;
using System.Globalization;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Storage;

/// <summary>
/// What one shard's read of a Parquet table costs: <c>ParquetTable.ReadColumnsAsync</c> of ROWS rows, every column, from a row group
/// that no read has decoded yet (a new <see cref="RowGroupCache"/> each time, so the group is decoded and kept, as a shard's
/// first read of it is), with column chunks decoded by ParquetTable's own ColumnChunkReader ("own") and by Parquet.Net alone
/// ("parquet-net"), in alternation. Bytes are all the process allocated during the read (the decode runs on a pool thread).
///   dotnet run --project bench/Bench -c Release -- parquet-read TABLE.parquet [ROWS=16384] [ROUNDS=20] [COLUMNS]
/// TABLE from `synthetic-table` (30 doubles, a long and a text column, in groups of 65,536); COLUMNS: how many of its columns to
/// read, from the first (all by default).
/// </summary>
public static class ParquetRead
{
    public static async Task RunAsync(string[] args)
    {
        if (args.Length < 1) throw new ArgumentException("usage: parquet-read TABLE.parquet [ROWS] [ROUNDS] [COLUMNS]");
        var blob = new LocalBlob(Path.GetFullPath(args[0]));
        var rows = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 16384;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 20;
        var length = await blob.LengthAsync();
        var probe = await ParquetTable.OpenAsync(blob, length, CancellationToken.None, new RowGroupCache());
        int[] columns = [.. Enumerable.Range(0, args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : probe.Columns.Length)];
        var (bytes, times) = (new Dictionary<bool, List<double>> { [true] = [], [false] = [] }, new Dictionary<bool, List<double>> { [true] = [], [false] = [] });
        for (var round = -2; round < rounds; round++) // two rounds of warm-up
        {
            var start = (long)Math.Abs(round) * rows % Math.Max(1, probe.Count - rows);
            ColumnCells[]? first = null;
            foreach (var own in round % 2 == 0 ? new[] { true, false } : [false, true])
            {
                var table = await ParquetTable.OpenAsync(blob, length, CancellationToken.None, new RowGroupCache());
                table.OwnChunkReader = own;
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var before = GC.GetTotalAllocatedBytes(precise: true);
                var clock = Stopwatch.StartNew();
                var cells = await table.ReadColumnsAsync(start, rows, columns, CancellationToken.None);
                clock.Stop();
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                if (first is null) first = cells;
                else if (!first.Zip(cells).All(p => Same(p.First, p.Second))) throw new InvalidOperationException($"rows {start}+{rows}: the two readers differ");
                if (round < 0) continue;
                bytes[own].Add(allocated / 1e6);
                times[own].Add(clock.Elapsed.TotalMilliseconds);
            }
        }
        // Large objects: the runtime's allocation-tick events (one for about each 100 KB allocated, with the amount since the last
        // one of its kind), over further rounds of each reader alone; events arrive late, so each pass waits for them.
        using var ticks = new AllocationTicks();
        var large = new Dictionary<bool, double>();
        foreach (var own in new[] { false, true })
        {
            await Task.Delay(2000);
            var from = ticks.Large;
            for (var round = 0; round < rounds; round++)
            {
                var table = await ParquetTable.OpenAsync(blob, length, CancellationToken.None, new RowGroupCache());
                table.OwnChunkReader = own;
                await table.ReadColumnsAsync((long)round * rows % Math.Max(1, probe.Count - rows), rows, columns, CancellationToken.None);
            }
            await Task.Delay(2000);
            large[own] = (ticks.Large - from) / 1e6 / rounds;
        }
        static double Median(List<double> x) => x.Order().ElementAt(x.Count / 2);
        Console.WriteLine($"{blob.Location}: ReadColumnsAsync of {rows} rows × {columns.Length} columns from a group not decoded yet, {rounds} rounds each, alternating; medians");
        Console.WriteLine("reader        allocated (MB)   wall (ms)");
        foreach (var own in new[] { false, true })
            Console.WriteLine($"{(own ? "own" : "parquet-net"),-13} {Median(bytes[own]),14:F1}   {Median(times[own]),9:F1}   large objects about {large[own]:F1} MB a read");
        Console.WriteLine($"ratio own / parquet-net: allocated {Median(bytes[true]) / Median(bytes[false]):F3}, wall {Median(times[true]) / Median(times[false]):F3} " +
            $"(per round, median of ratios: wall {Median([.. times[true].Zip(times[false], (a, b) => a / b)]):F3})");
    }

    /// <summary>Whether two reads of a column give the same cells: missing alike, numbers with the same bits, texts equal.</summary>
    private static bool Same(ColumnCells a, ColumnCells b) => a.Count == b.Count && Enumerable.Range(0, a.Count).All(r =>
        a.IsMissing(r) == b.IsMissing(r) && (a.IsMissing(r) || (a.TryNumber(r, out var x) && b.TryNumber(r, out var y)
            ? BitConverter.DoubleToInt64Bits(x) == BitConverter.DoubleToInt64Bits(y)
            : a.Text(r) == b.Text(r))));
}

/// <summary>The bytes allocated in large objects (85,000 bytes and more), from the runtime's sampled allocation-tick events.</summary>
internal sealed class AllocationTicks : System.Diagnostics.Tracing.EventListener
{
    private long _large;

    public long Large => Interlocked.Read(ref _large);

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)1); // GC
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.Payload is null) return;
        var names = e.PayloadNames!;
        var kind = Convert.ToInt32(e.Payload[names.IndexOf("AllocationKind")], System.Globalization.CultureInfo.InvariantCulture);
        if (kind == 1) Interlocked.Add(ref _large, Convert.ToInt64(e.Payload[names.IndexOf("AllocationAmount64")], System.Globalization.CultureInfo.InvariantCulture));
    }
}
