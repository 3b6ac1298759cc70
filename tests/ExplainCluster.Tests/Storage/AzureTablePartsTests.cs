using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

/// <summary>A table's parts under a container prefix (<c>"table": "az://container/prefix/"</c>): its .csv or .parquet blobs in name order, as a local folder's.</summary>
public sealed class AzureTablePartsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    /// <summary>Uploads every file of <paramref name="folder"/> (its subfolders' too, which are no parts) under <paramref name="prefix"/>, in reverse name order.</summary>
    private static async Task UploadAsync(BlobLocator locator, string folder, string prefix)
    {
        foreach (var file in Directory.GetFiles(folder, "*", SearchOption.AllDirectories).OrderDescending(StringComparer.Ordinal))
            await locator.Resolve($"{prefix}{Path.GetRelativePath(folder, file).Replace(Path.DirectorySeparatorChar, '/')}").WriteAsync(await File.ReadAllBytesAsync(file));
    }

    [Fact]
    public async Task Run_CreditPartsUnderAContainerPrefix_GiveTheSingleFileOutputs()
    {
        var container = $"parts-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        var folder = TestPaths.NewFolder();
        int[] cuts = [0, 1000, 3000];
        var csvParts = await TablePartsCliTests.WritePartsAsync(TableFiles.Credit, Path.Combine(folder, "csv"), cuts, parquet: false);
        await TablePartsCliTests.WritePartsAsync(TableFiles.Credit, Path.Combine(folder, "parquet"), cuts, parquet: true);
        await UploadAsync(locator, Path.Combine(folder, "csv"), $"az://{container}/credit/csv/");
        await UploadAsync(locator, Path.Combine(folder, "parquet"), $"az://{container}/credit/parquet/");

        var environment = new Dictionary<string, string> { ["Storage__ConnectionString"] = azurite.ConnectionString };
        var expected = TablePartsCliTests.Digest(await TablePartsCliTests.RunAsync(folder, "single", TableFiles.Credit));
        Assert.Contains("\"samples\": 4454", expected);
        // A prefix with its trailing '/', and one without (no blob has its name, so it is taken as a prefix).
        Assert.Equal(expected, TablePartsCliTests.Digest(await TablePartsCliTests.RunAsync(folder, "csv-blob", $"az://{container}/credit/csv/", environment)));
        Assert.Equal(expected, TablePartsCliTests.Digest(await TablePartsCliTests.RunAsync(folder, "parquet-blob", $"az://{container}/credit/parquet", environment)));

        // inputsSha256 covers each part's name and bytes: the same as the local folder's.
        using var manifest = Jobs.ReadJson(Path.Combine(folder, "csv-blob", "manifest.json"));
        Assert.Equal(TablePartsCliTests.PartsSha256(csvParts.Select(p => (Path.GetFileName(p), File.ReadAllBytes(p)))),
            manifest.RootElement.GetProperty("inputsSha256").GetString());
    }

    [Fact]
    public async Task Open_PrefixWithoutPartsOrWithBothFormats_FailsInOneLine()
    {
        var container = $"badparts-{Guid.NewGuid():N}";
        var locator = new BlobLocator(azurite.ConnectionString);
        var linear = TestPaths.Fixture("tabular/tabular_linear.csv");
        await locator.Resolve($"az://{container}/none/_SUCCESS").WriteAsync(Array.Empty<byte>());
        await locator.Resolve($"az://{container}/none/sub/part-00000.csv").WriteAsync(await File.ReadAllBytesAsync(linear));
        await locator.Resolve($"az://{container}/mixed/part-00000.csv").WriteAsync(await File.ReadAllBytesAsync(linear));
        var parquet = await TableFiles.ParquetOfAsync(linear, Path.Combine(TestPaths.NewFolder(), "linear.parquet"), rowGroup: 4);
        await locator.Resolve($"az://{container}/mixed/part-00001.parquet").WriteAsync(await File.ReadAllBytesAsync(parquet));
        JobSpec Job(string table) => JobFile.Parse($$"""
            { "model": { "uri": "m.pt" }, "data": {{TableFiles.LinearData(table)}}, "methods": { "saliency": {} }, "output": "out" }
            """, "/tmp");

        var none = await Assert.ThrowsAsync<ExplainException>(() => Dataset.OpenAsync(Job($"az://{container}/none/"), locator));
        Assert.Equal($"data.table: az://{container}/none/ holds no .csv or .parquet parts", none.Message);
        var mixed = await Assert.ThrowsAsync<ExplainException>(() => Dataset.OpenAsync(Job($"az://{container}/mixed/"), locator));
        Assert.Equal($"data.table: az://{container}/mixed/ holds both .csv and .parquet parts (part-00000.csv, part-00001.parquet); a table's parts are all of one format",
            mixed.Message);
        var missing = await Assert.ThrowsAsync<ExplainException>(() => Dataset.OpenAsync(Job($"az://{container}/nothing.csv"), locator));
        Assert.Equal($"data.table: az://{container}/nothing.csv does not exist", missing.Message);
    }
}
