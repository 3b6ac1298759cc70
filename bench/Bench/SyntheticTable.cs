using System.Globalization;
using Parquet;
using Parquet.Schema;

/// <summary>
/// The 1,000,000-row table benchmark's data (bench/cluster.sh table): ROWS rows of 30 features f00..f29, each N(0, 1), a
/// label by the rule tools/make_synthetic_table.py trained its model on, and a metadata column `region` (five values),
/// written as Parquet in row groups.
///   dotnet run --project bench/Bench -c Release -- synthetic-table ROWS OUT.parquet [ROW-GROUP=65536]
/// </summary>
public static class SyntheticTable
{
    public const int Features = 30;

    public static async Task RunAsync(string[] args)
    {
        if (args.Length < 2) throw new ArgumentException("usage: synthetic-table ROWS OUT.parquet [ROW-GROUP]");
        var rows = long.Parse(args[0], CultureInfo.InvariantCulture);
        var rowGroup = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 65536;
        var names = Enumerable.Range(0, Features).Select(j => $"f{j:D2}").ToArray();
        var w = Enumerable.Range(0, Features).Select(j => (j % 2 == 0 ? 1.0 : -1.0) / (1 + j / 3.0)).ToArray();
        DataField[] fields = [.. names.Select(n => new DataField<double>(n)), new DataField<long>("label"), new DataField<string>("region")];
        string[] regions = ["north", "south", "east", "west", "centre"];
        var random = new Random(24);
        await using var stream = File.Create(args[1]);
        await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
        for (long start = 0; start < rows; start += rowGroup)
        {
            var n = (int)Math.Min(rowGroup, rows - start);
            var x = new double[Features][];
            for (var j = 0; j < Features; j++) x[j] = new double[n];
            var (label, region) = (new long[n], new string[n]);
            for (var i = 0; i < n; i++)
            {
                var z = 0.0;
                for (var j = 0; j < Features; j++) z += w[j] * (x[j][i] = Normal(random));
                z += 0.5 * x[0][i] * x[1][i] - 0.5 * Math.Abs(x[2][i]);
                var u = Math.Clamp(random.NextDouble(), 1e-12, 1 - 1e-12);
                label[i] = z + Math.Log(u / (1 - u)) > 0 ? 1 : 0;
                region[i] = regions[random.Next(regions.Length)];
            }
            using var group = writer.CreateRowGroup();
            for (var j = 0; j < Features; j++) await group.WriteAsync(fields[j], new ReadOnlyMemory<double>(x[j]));
            await group.WriteAsync(fields[Features], new ReadOnlyMemory<long>(label));
            await group.WriteAsync(fields[Features + 1], region);
        }
        Console.WriteLine($"{rows} rows × {Features} features in row groups of {rowGroup}: {args[1]} ({new FileInfo(args[1]).Length / 1e6:F0} MB)");
    }

    /// <summary>A standard normal draw (Box–Muller, one of the pair).</summary>
    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
