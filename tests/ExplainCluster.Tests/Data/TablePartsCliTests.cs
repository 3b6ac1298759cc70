using System.Security.Cryptography;
using System.Text;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// A table given as a folder of parts (<c>"table": "FOLDER"</c>) through <c>explain run</c>: the credit table cut in three
/// parts, CSV or Parquet, gives the single file's outputs byte for byte with shards that span parts; a bad folder or part
/// fails in one line naming it.
/// </summary>
public sealed class TablePartsCliTests
{
    /// <summary>The rows (after the header) each part of the credit table starts at: parts of 1,000, 2,000 and 1,454 rows.</summary>
    private static readonly int[] Cuts = [0, 1000, 3000];

    /// <summary>Shards of 5 batches of 256 (as the single file's, so every batch holds the same rows): shards 0 and 2 span two parts.</summary>
    private const int ShardSize = 1280;

    private const string Methods = """
        { "saliency": {}, "integrated-gradients": { "steps": 8 },
          "kernel-shap": { "samples": 32, "background": { "samples": 8, "seed": 3 }, "subset": { "fraction": 0.02, "seed": 1 } } }
        """;

    /// <summary>
    /// Writes <paramref name="csv"/>'s rows as parts cut at <paramref name="cuts"/>, each with the header (CSV), or as Parquet
    /// in row groups of 300; beside them what is no part: <c>_SUCCESS</c>, hidden files (one of each format), a text file and
    /// a subfolder's part.
    /// </summary>
    internal static async Task<string[]> WritePartsAsync(string csv, string folder, int[] cuts, bool parquet)
    {
        Directory.CreateDirectory(folder);
        var lines = (await File.ReadAllTextAsync(csv)).TrimEnd('\n').Split('\n');
        var parts = new List<string>();
        for (var p = 0; p < cuts.Length; p++)
        {
            var end = p + 1 < cuts.Length ? cuts[p + 1] : lines.Length - 1;
            var part = Path.Combine(folder, $"part-{p:D5}.csv");
            await File.WriteAllLinesAsync(part, [lines[0], .. lines[(1 + cuts[p])..(1 + end)]]);
            if (parquet)
            {
                await TableFiles.ParquetOfAsync(part, Path.ChangeExtension(part, ".parquet"), rowGroup: 300);
                File.Delete(part);
                part = Path.ChangeExtension(part, ".parquet");
            }
            parts.Add(part);
        }
        await File.WriteAllBytesAsync(Path.Combine(folder, "_SUCCESS"), []);
        await File.WriteAllTextAsync(Path.Combine(folder, ".part-00000.csv.crc"), "crc");
        await File.WriteAllTextAsync(Path.Combine(folder, "_ignored.csv"), "x,y\n1,2\n"); // hidden by its '_', as Spark's readers take it
        await File.WriteAllTextAsync(Path.Combine(folder, ".ignored.parquet"), "not parquet"); // and by its '.'
        await File.WriteAllTextAsync(Path.Combine(folder, "README.txt"), "not a part");
        Directory.CreateDirectory(Path.Combine(folder, "old"));
        File.Copy(parts[0], Path.Combine(folder, "old", Path.GetFileName(parts[0])));
        return [.. parts];
    }

    /// <summary>SHA-256 over each part's name, a NUL and its bytes, in order: what manifest.json's inputsSha256 should be.</summary>
    internal static string PartsSha256(IEnumerable<(string Name, byte[] Bytes)> parts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (name, bytes) in parts)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(name + "\0"));
            hash.AppendData(bytes);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    internal static string CreditJob(string table, string output) => $$"""
        { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] },
          "data": {{TableFiles.CreditData(table)}}, "methods": {{Methods}}, "target": "label", "shardSize": {{ShardSize}}, "output": "{{output}}",
          "dependence": { "features": 2, "grid": 6, "ice": 3, "sample": 300, "seed": 4 } }
        """;

    /// <summary>summary.json and its arrays, then every shard's samples part and each method's attribution parts by SHA-256, in shard order.</summary>
    internal static string Digest(string output)
    {
        var lines = new List<string> { Jobs.Summary(output) };
        for (var s = 0; s < 4; s++)
        {
            var files = new[] { Path.Combine("samples", $"part-{s:D5}.parquet") }
                .Concat(new[] { "saliency", "integrated-gradients", "kernel-shap" }.Select(m => Path.Combine("attributions", m, $"part-{s:D5}.parquet")));
            lines.AddRange(files.Select(f => $"{f} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(output, f))))}"));
        }
        return string.Join('\n', lines);
    }

    internal static async Task<string> RunAsync(string folder, string name, string table, Dictionary<string, string>? environment = null)
    {
        var job = Path.Combine(folder, $"{name}.json");
        await File.WriteAllTextAsync(job, CreditJob(table, name));
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(5), environment ?? new Dictionary<string, string>(), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        return Path.Combine(folder, name);
    }

    [Fact]
    public async Task Run_CreditInThreeCsvOrParquetParts_EqualsTheSingleFileByteForByte()
    {
        var folder = TestPaths.NewFolder();
        var csvParts = await WritePartsAsync(TableFiles.Credit, Path.Combine(folder, "csv"), Cuts, parquet: false);
        var parquetParts = await WritePartsAsync(TableFiles.Credit, Path.Combine(folder, "parquet"), Cuts, parquet: true);

        var expected = Digest(await RunAsync(folder, "single", TableFiles.Credit));
        Assert.Contains("\"samples\": 4454", expected);
        Assert.Equal(expected, Digest(await RunAsync(folder, "csv-parts", Path.Combine(folder, "csv"))));
        Assert.Equal(expected, Digest(await RunAsync(folder, "parquet-parts", Path.Combine(folder, "parquet"))));

        // The inputs' hash: one file's bytes; the parts' names and bytes in order (what is no part is not in it).
        string InputsSha256(string output)
        {
            using var manifest = Jobs.ReadJson(Path.Combine(folder, output, "manifest.json"));
            return manifest.RootElement.GetProperty("inputsSha256").GetString()!;
        }
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(TableFiles.Credit))), InputsSha256("single"));
        Assert.Equal(PartsSha256(csvParts.Select(p => (Path.GetFileName(p), File.ReadAllBytes(p)))), InputsSha256("csv-parts"));
        Assert.Equal(PartsSha256(parquetParts.Select(p => (Path.GetFileName(p), File.ReadAllBytes(p)))), InputsSha256("parquet-parts"));
    }

    [Theory]
    [InlineData("none", "data.table: {folder} holds no .csv or .parquet parts")]
    [InlineData("mixed", "data.table: {folder} holds both .csv and .parquet parts (part-00000.csv, part-00002.parquet); a table's parts are all of one format")]
    [InlineData("missing column", "data.table: {folder}/part-00001.csv has no column \"b\", which the first part (part-00000.csv) has; every part has the first part's columns, in its order")]
    [InlineData("reordered columns", "data.table: {folder}/part-00002.csv: column 2 is \"b\", where the first part (part-00000.csv) has \"a\"; every part has the first part's columns, in its order")]
    [InlineData("csv value", "{folder}/part-00001.csv: row 1 (dataset index 3), column \"a\": \"abc\" is not a number")]
    [InlineData("parquet value", "{folder}/part-00002.parquet: row 0 (dataset index 5), column \"c\": \"w\" is not one of its levels (x, y, z)")]
    public async Task Run_BadParts_FailInOneLineNamingThePart(string problem, string message)
    {
        // The linear fixture's six rows as parts of 2, 3 and 1 rows; shards of 4 span the first two.
        var folder = TestPaths.NewFolder();
        var parts = Path.Combine(folder, "parts");
        var text = await File.ReadAllTextAsync(TestPaths.Fixture("tabular/tabular_linear.csv"));
        var written = await WritePartsAsync(problem switch
        {
            "csv value" => await Write(text.Replace("r3,0,-2", "r3,abc,-2", StringComparison.Ordinal)),
            "parquet value" => await Write(text.Replace("r5,1,0.5,x", "r5,1,0.5,w", StringComparison.Ordinal)),
            _ => TestPaths.Fixture("tabular/tabular_linear.csv"),
        }, parts, [0, 2, 5], parquet: problem == "parquet value");
        switch (problem)
        {
            case "none":
                foreach (var part in written) File.Delete(part);
                break;
            case "mixed":
                await TableFiles.ParquetOfAsync(written[2], Path.ChangeExtension(written[2], ".parquet"), rowGroup: 10);
                File.Delete(written[2]);
                break;
            case "missing column":
                await File.WriteAllTextAsync(written[1], (await File.ReadAllTextAsync(written[1])).Replace("id,a,b,c", "id,a,bb,c", StringComparison.Ordinal));
                break;
            case "reordered columns":
                await File.WriteAllTextAsync(written[2], "id,b,a,c,label,region\nr5,0.5,1,x,0,west\n");
                break;
        }
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" }, "data": {{TableFiles.LinearData("parts")}},
              "methods": { "grad-x-input": {} }, "shardSize": 4, "output": "out" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal($"error: {message.Replace("{folder}", parts, StringComparison.Ordinal)}", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.DoesNotContain("Exception", run.Stdout + run.Stderr);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));

        async Task<string> Write(string csv)
        {
            var path = Path.Combine(folder, "table.csv");
            await File.WriteAllTextAsync(path, csv);
            return path;
        }
    }
}
