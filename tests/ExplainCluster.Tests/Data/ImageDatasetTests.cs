using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>Image folders and manifests as a job's dataset: ImageFolder's order and labels, ranged reads, the bad inputs.</summary>
public sealed class ImageDatasetTests
{
    private const string FashionClasses = "[\"T-shirt/top\",\"Trouser\",\"Pullover\",\"Dress\",\"Coat\",\"Sandal\",\"Shirt\",\"Sneaker\",\"Bag\",\"Ankle boot\"]";

    private static string Job(string data, string? classes = null) => $$"""
        { "model": { "uri": "m.pt" {{(classes is null ? "" : $", \"classes\": {classes}")}} },
          "data": {{data}}, "methods": { "saliency": {} }, "output": "out" }
        """;

    private static Task<Dataset> OpenAsync(string data, string? classes = null, string? folder = null) =>
        Dataset.OpenAsync(JobFile.Parse(Job(data, classes), folder ?? TestPaths.Fixture("images")), new BlobLocator(null));

    [Fact]
    public async Task Folder_RangedRead_IsImageFoldersSamplesInOrder()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("images/reference/pipelines.json")));
        var reference = doc.RootElement.GetProperty("large_crop");
        var dataset = await OpenAsync($$"""{ "images": "large", "labels": "folders", "transforms": {{reference.GetProperty("transforms").GetRawText()}} }""");
        Assert.Equal(12, dataset.Count);
        Assert.Equal([3, 28, 28], dataset.SampleShape);

        // A shard in the middle: samples 5–8, against torchvision's tensors of the same samples (normalize undone).
        var data = await dataset.ReadAsync(new ShardSpec(1, 5, 4));
        var expected = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture("images/reference/large_crop.npy"));
        double[] mean = [0.5, 0.4, 0.3], std = [0.2, 0.25, 0.3];
        for (var i = 0; i < data.Raw.Length; i++)
        {
            var c = i / (28 * 28) % 3;
            Assert.Equal(expected[5 * 3 * 28 * 28 + i] * std[c] + mean[c], data.Raw[i] / 255.0, 1e-6);
        }
        Assert.Equal(reference.GetProperty("targets").EnumerateArray().Skip(5).Take(4).Select(t => t.GetInt64()), data.Labels!);
    }

    [Fact]
    public async Task Manifest_SameImagesAsFolder_ReadsTheSameSamplesAndLabels()
    {
        const string Transforms = "[{\"grayscale\": {}}, {\"toTensor\": {}}]";
        var folder = await OpenAsync($$"""{ "images": "small", "labels": "folders", "transforms": {{Transforms}} }""", FashionClasses);
        var manifest = await OpenAsync($$"""{ "manifest": "manifest.csv", "path": "path", "label": "label", "transforms": {{Transforms}} }""", FashionClasses);
        var a = await folder.ReadAsync(new ShardSpec(0, 0, 18));
        var b = await manifest.ReadAsync(new ShardSpec(0, 0, 18));
        Assert.Equal(a.Raw, b.Raw);
        Assert.Equal(a.Labels, b.Labels);
        // The PNGs are the IDX file's bytes: the .npy the script wrote from them holds the same values and labels.
        var raw = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture("images/small_raw.npy"));
        Assert.Equal(raw, a.Raw);
        Assert.Equal(await NpyFiles.ReadIntegersAsync(TestPaths.Fixture("images/small_labels.npy")), a.Labels!);
    }

    [Fact]
    public async Task Manifest_Metadata_CarriesEachRowsValuesIntoItsShard()
    {
        var dataset = await OpenAsync("""{ "manifest": "manifest.csv", "path": "path", "label": "label", "metadata": ["site", "path"] }""", FashionClasses);
        var rows = File.ReadAllLines(TestPaths.Fixture("images/manifest.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        // A shard in the middle: rows 5–8 of the manifest, each column as the file has it.
        var data = await dataset.ReadAsync(new ShardSpec(1, 5, 4));
        var metadata = data.Metadata!;
        Assert.Equal(["site", "path"], metadata.Select(c => c.Name));
        Assert.Equal(rows[5..9].Select(r => r[2]), metadata[0].Values);
        Assert.Equal(rows[5..9].Select(r => r[0]), metadata[1].Values);
        Assert.Contains("A", metadata[0].Values);
        Assert.Contains("B", metadata[0].Values);
        // Without metadata the shard carries none, and an empty field is a missing value (null), as a table's.
        Assert.Null((await (await OpenAsync("""{ "manifest": "manifest.csv", "path": "path" }""")).ReadAsync(new ShardSpec(0, 0, 2))).Metadata);
        var folder = TestPaths.NewFolder();
        await File.WriteAllTextAsync(Path.Combine(folder, "m.csv"),
            $"path,site\n{TestPaths.Fixture("images/small/Bag/0018.png")},\n{TestPaths.Fixture("images/small/Bag/0030.png")},C\n");
        var gaps = await (await OpenAsync("""{ "manifest": "m.csv", "path": "path", "metadata": ["site"] }""", folder: folder)).ReadAsync(new ShardSpec(0, 0, 2));
        Assert.Equal(new string?[] { null, "C" }, gaps.Metadata![0].Values);
    }

    [Fact]
    public async Task ParquetManifest_NamesOrIndices_ReadsTheSameSamplesAsTheFolder()
    {
        var rows = File.ReadAllLines(TestPaths.Fixture("images/manifest.csv")).Skip(1).Select(l => l.Split(',')).ToArray();
        string[] classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
        var folder = TestPaths.NewFolder();
        // Paths relative to the manifest: this one is elsewhere, so they lead back to the fixtures.
        var paths = rows.Select(r => Path.GetRelativePath(folder, Path.Combine(TestPaths.Fixture("images"), r[0]))).ToArray();
        async Task<string> Write(string name, Parquet.Schema.DataField label, Func<ParquetRowGroupWriterBox, Task> writeLabel)
        {
            var path = Path.Combine(folder, name);
            var pathField = new Parquet.Schema.DataField<string>("file");
            await using var stream = File.Create(path);
            await using var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(pathField, label), stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(pathField, paths);
            await writeLabel(new ParquetRowGroupWriterBox(group));
            return path;
        }
        var names = new Parquet.Schema.DataField<string>("class");
        var byName = await Write("names.parquet", names, g => g.Group.WriteAsync(names, rows.Select(r => r[1]).ToArray()));
        var indices = new Parquet.Schema.DataField<long>("class");
        var byIndex = await Write("indices.parquet", indices, g => g.Group.WriteAsync(indices, new ReadOnlyMemory<long>([.. rows.Select(r => (long)Array.IndexOf(classes, r[1]))])));

        const string Transforms = "[{\"grayscale\": {}}, {\"toTensor\": {}}]";
        var expected = await (await OpenAsync($$"""{ "images": "small", "labels": "folders", "transforms": {{Transforms}} }""", FashionClasses)).ReadAsync(new ShardSpec(0, 0, 18));
        foreach (var manifest in new[] { byName, byIndex })
        {
            var dataset = await OpenAsync($$"""{ "manifest": "{{manifest}}", "path": "file", "label": "class", "transforms": {{Transforms}} }""", FashionClasses, folder);
            var data = await dataset.ReadAsync(new ShardSpec(0, 0, 18));
            Assert.Equal(expected.Raw, data.Raw);
            Assert.Equal(expected.Labels, data.Labels);
        }
    }

    [Fact]
    public async Task ParquetManifest_NumericAndBooleanMetadata_AsInvariantTextNullWhereMissing()
    {
        var folder = TestPaths.NewFolder();
        var path = Path.Combine(folder, "m.parquet");
        var file = new Parquet.Schema.DataField<string>("file");
        var dose = new Parquet.Schema.DataField<double?>("dose");
        var flag = new Parquet.Schema.DataField<bool>("flag");
        await using (var stream = File.Create(path))
        await using (var writer = await Parquet.ParquetWriter.CreateAsync(new Parquet.Schema.ParquetSchema(file, dose, flag), stream))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(file, new[] { TestPaths.Fixture("images/small/Bag/0018.png"), TestPaths.Fixture("images/small/Bag/0030.png") });
            await group.WriteAsync(dose, new ReadOnlyMemory<double?>([0.25, null]));
            await group.WriteAsync(flag, new ReadOnlyMemory<bool>([true, false]));
        }
        var data = await (await OpenAsync("""{ "manifest": "m.parquet", "path": "file", "metadata": ["dose", "flag"] }""", folder: folder)).ReadAsync(new ShardSpec(0, 0, 2));
        Assert.Equal(new string?[] { "0.25", null }, data.Metadata![0].Values);
        Assert.Equal(new string?[] { "true", "false" }, data.Metadata[1].Values);
    }

    /// <summary>A row group writer passed to a lambda (xunit's analyzers refuse a using-declared local captured by one).</summary>
    private sealed record ParquetRowGroupWriterBox(Parquet.ParquetRowGroupWriter Group);

    [Fact]
    public async Task Sha256_Folder_IsEachNameAndBytesInImageFoldersOrder()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("images/reference/pipelines.json")));
        var files = doc.RootElement.GetProperty("large_crop").GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToArray();
        using var expected = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var file in files)
        {
            expected.AppendData(System.Text.Encoding.UTF8.GetBytes(file + "\0"));
            expected.AppendData(File.ReadAllBytes(TestPaths.Fixture($"images/large/{file}")));
        }
        var job = JobFile.Parse(Job("""{ "images": "large", "labels": "folders" }"""), TestPaths.Fixture("images"));
        var locator = new BlobLocator(null);
        var list = await ExplainCluster.Engine.Data.Images.ImageList.OpenAsync(job, locator, default);
        Assert.Equal(Convert.ToHexStringLower(expected.GetHashAndReset()), await list.Sha256Async(job, locator, default));
    }

    [Fact]
    public async Task Folder_WithoutModelClasses_ClassesSortedByName()
    {
        var dataset = await OpenAsync("""{ "images": "small", "labels": "folders" }""");
        var labels = (await dataset.ReadAsync(new ShardSpec(0, 0, 18))).Labels!;
        Assert.Equal(Enumerable.Repeat(0L, 6).Concat(Enumerable.Repeat(1L, 6)).Concat(Enumerable.Repeat(2L, 6)), labels); // Bag, Sneaker, Trouser
        Assert.Equal([3, 28, 28], dataset.SampleShape); // ImageFolder's loader makes every image RGB
    }

    [Fact]
    public async Task Folder_Bomb_RefusedFromItsHeaderWhenRead()
    {
        var folder = TestPaths.NewFolder();
        Directory.CreateDirectory(Path.Combine(folder, "images", "a"));
        File.Copy(TestPaths.Fixture("images/small/Bag/0018.png"), Path.Combine(folder, "images", "a", "0018.png"));
        File.Copy(TestPaths.Fixture("images/corrupt/bomb.png"), Path.Combine(folder, "images", "a", "bomb.png"));
        var dataset = await OpenAsync("""{ "images": "images", "labels": "folders", "transforms": [{"resize": [8, 8]}, {"toTensor": {}}] }""", folder: folder);
        var error = await Assert.ThrowsAsync<ExplainException>(() => dataset.ReadAsync(new ShardSpec(0, 0, 2)));
        Assert.Equal($"{Path.Combine(folder, "images", "a", "bomb.png")}: declares 100000x100000 pixels (30,000,000,000 bytes decoded as RGB), above Limits:MaxSampleBytes (67,108,864); refused before decoding", error.Message);
    }

    [Fact]
    public async Task Folder_ImagesOfDifferentSizesWithoutCrop_OneLineNamingTheFile()
    {
        var dataset = await OpenAsync("""{ "images": "large", "transforms": [{"resize": 32}, {"toTensor": {}}] }""");
        var error = await Assert.ThrowsAsync<ExplainException>(() => dataset.ReadAsync(new ShardSpec(0, 0, 12)));
        Assert.Matches(@"large/\w+/\d+\.(png|jpg): is \d+x\d+ after data.transforms, the first image \d+x\d+; end the transforms with centerCrop or resize \[h, w\]", error.Message);
    }

    [Fact]
    public async Task Open_ImagesOutsideLocalRoots_RefusedBeforeAnyIsRead()
    {
        var root = TestPaths.NewFolder();
        var policy = new LocationPolicy([root], null);
        // A manifest under the root whose row points outside it, and a folder under the root holding a link out of it.
        await File.WriteAllTextAsync(Path.Combine(root, "m.csv"), "path\n/etc/passwd\n");
        Directory.CreateDirectory(Path.Combine(root, "images", "a"));
        File.CreateSymbolicLink(Path.Combine(root, "images", "a", "x.png"), "/etc/passwd");
        foreach (var (data, field) in new[] { ("""{ "manifest": "m.csv", "path": "path" }""", "data.manifest: /etc/passwd"),
                     ("""{ "images": "images" }""", $"data.images: {Path.Combine(root, "images", "a", "x.png")}") })
        {
            var job = JobFile.Parse(Job(data), root);
            policy.Check(job); // the folder and the manifest themselves are under the root
            var error = await Assert.ThrowsAsync<ExplainException>(() => Dataset.OpenAsync(job, new BlobLocator(null), policy: policy));
            Assert.StartsWith($"{field} is outside Storage:LocalRoots", error.Message);
        }
    }

    [Theory]
    [InlineData("""{ "images": "nowhere", "labels": "folders" }""", null, "data.images: {0}/nowhere is not a folder")]
    [InlineData("""{ "images": "small", "labels": "folders" }""", "[\"Bag\", \"Trouser\"]", "{0}/small: folder \"Sneaker\" is not one of model.classes")]
    [InlineData("""{ "manifest": "manifest.csv", "path": "file" }""", null, "data.path: {0}/manifest.csv has no column \"file\" (columns: path, label, site)")]
    [InlineData("""{ "manifest": "missing.csv", "path": "path" }""", null, "data.manifest: {0}/missing.csv does not exist")]
    [InlineData("""{ "manifest": "manifest.csv", "path": "path", "metadata": ["site", "device"] }""", null, "data.metadata[1]: {0}/manifest.csv has no column \"device\" (columns: path, label, site)")]
    [InlineData("""{ "images": "corrupt" }""", null, "{0}/corrupt/bomb.png: declares 100000x100000 pixels (30,000,000,000 bytes decoded as RGB), above Limits:MaxSampleBytes (67,108,864); refused before decoding")]
    public async Task Open_BadInput_OneLineNamingTheProblem(string data, string? classes, string message)
    {
        var dataset = OpenAsync(data, classes);
        var error = await Assert.ThrowsAsync<ExplainException>(async () => await (await dataset).ReadAsync(new ShardSpec(0, 0, 1)));
        Assert.Equal(string.Format(System.Globalization.CultureInfo.InvariantCulture, message, TestPaths.Fixture("images")), error.Message);
    }

    [Theory]
    [InlineData("""{ "images": "small", "inputs": "x.npy" }""", "data: inputs and images exclude each other; give one")]
    [InlineData("""{ "labels": "y.npy" }""", "data: give inputs (an array file), images (a folder), manifest (a CSV or Parquet file of images), tar (WebDataset shards of images) or table (a CSV or Parquet file of features)")]
    [InlineData("""{ "images": "small", "labels": "classes.npy" }""", "data.labels: with images, labels are \"folders\" (the first folder under images is the class)")]
    [InlineData("""{ "images": "small", "preprocess": { "scale": 1 } }""", "data.preprocess: unknown field")]
    [InlineData("""{ "manifest": "manifest.csv" }""", "data.path: missing")]
    [InlineData("""{ "images": "small", "onBadSample": "ignore" }""", "data.onBadSample: expected one of \"fail\", \"skip\"")]
    [InlineData("""{ "images": "small", "onBadSample": "skip", "maxBadSamples": -1 }""", "data.maxBadSamples: expected an integer from 0 to 2147483647")]
    [InlineData("""{ "inputs": "x.npy", "transforms": [] }""", "data.transforms: unknown field")]
    [InlineData("""{ "images": "small", "metadata": ["site"] }""", "data.metadata: only with a manifest (its columns); a folder of images has none")]
    [InlineData("""{ "manifest": "manifest.csv", "path": "path", "metadata": ["site", "loss"] }""", "data.metadata: \"loss\" is a column of the samples table already (index, label, prediction, confidence, loss, correct)")]
    [InlineData("""{ "manifest": "manifest.csv", "path": "path", "metadata": ["site", "site"] }""", "data.metadata: a name is given twice")]
    [InlineData("""{ "manifest": "manifest.csv", "path": "path", "metadata": "site" }""", "data.metadata: expected a non-empty array of non-empty strings")]
    public void Parse_BadDataFields_OneLineNamingTheField(string data, string message) =>
        Assert.Equal(message, Assert.Throws<ExplainException>(() => JobFile.Parse(Job(data), TestPaths.Fixture("images"))).Message);

    [Fact]
    public void Parse_Images_TransformsBecomeThePreprocess()
    {
        var job = JobFile.Parse(Job("""{ "images": "small", "labels": "folders", "transforms": [{"grayscale": {}}, {"toTensor": {}}, {"normalize": {"mean": [0.286], "std": [0.353]}}] }"""),
            TestPaths.Fixture("images"));
        Assert.Equal(new PreprocessSpec(1.0 / 255, [0.286], [0.353], null) with { Mean = job.Data.Preprocess.Mean, Std = job.Data.Preprocess.Std }, job.Data.Preprocess);
        Assert.Equal([0.286], job.Data.Preprocess.Mean!);
        Assert.True(job.Data.HasLabels);
        Assert.Equal(TestPaths.Fixture("images/small"), job.Data.Inputs);
    }
}
