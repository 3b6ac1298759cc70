using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>Tables (CSV and Parquet) as a job's dataset: the training vectors exactly, ranged reads, the bad inputs.</summary>
public sealed class TableDatasetTests
{
    private static JobSpec Job(string data, string classes = "[\"bad\", \"good\"]", string folder = "/tmp") => JobFile.Parse($$"""
        { "model": { "uri": "m.pt", "classes": {{classes}} }, "data": {{data}}, "methods": { "saliency": {} }, "output": "out" }
        """, folder);

    private static Task<Dataset> OpenAsync(string data, string classes = "[\"bad\", \"good\"]") =>
        Dataset.OpenAsync(Job(data, classes), new BlobLocator(null));

    [Fact]
    public async Task Csv_CreditRows_AreThePythonTrainingVectorsExactly()
    {
        var dataset = await OpenAsync(TableFiles.CreditData(TableFiles.Credit));
        Assert.Equal(4454, dataset.Count);
        Assert.Equal([26], dataset.SampleShape);
        var all = await dataset.ReadAsync(new ShardSpec(0, 0, dataset.Count));
        using var expected = JsonDocument.Parse(File.ReadAllText(TestPaths.Fixture("tabular/credit_expected.json")));
        var rows = expected.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetInt32()).ToArray();
        var vectors = expected.RootElement.GetProperty("vectors").EnumerateArray().ToArray();
        for (var k = 0; k < rows.Length; k++)
            Assert.Equal(vectors[k].EnumerateArray().Select(v => v.GetSingle()), all.Raw.AsSpan(rows[k] * 26, 26).ToArray());
        // Status: bad is class 0, good class 1, as model.classes names them; row 2 of the file is "bad".
        var status = File.ReadLines(TableFiles.Credit).Skip(1).Select(l => l.Split(',')[0].Trim('"')).ToArray();
        Assert.Equal(status.Select(s => s == "good" ? 1L : 0L), all.Labels!);
        Assert.Equal(0, all.Labels![2]);
    }

    [Fact]
    public async Task ParquetInRowGroups_AnyRange_ReadsWhatTheCsvReads()
    {
        var parquet = await TableFiles.ParquetOfAsync(TableFiles.Credit, Path.Combine(TestPaths.NewFolder(), "credit.parquet"), rowGroup: 700);
        var csv = await OpenAsync(TableFiles.CreditData(TableFiles.Credit));
        var pq = await OpenAsync(TableFiles.CreditData(parquet));
        Assert.Equal(csv.Count, pq.Count);
        var whole = await csv.ReadAsync(new ShardSpec(0, 0, csv.Count));
        // Shards that start and end inside row groups and span several: together they are the whole table.
        var shards = Dataset.Plan(csv.Count, 1000);
        var raw = new List<float>();
        var labels = new List<long>();
        foreach (var shard in shards)
        {
            var a = await csv.ReadAsync(shard);
            var b = await pq.ReadAsync(shard);
            Assert.Equal(a.Raw, b.Raw);
            Assert.Equal(a.Labels, b.Labels);
            raw.AddRange(b.Raw);
            labels.AddRange(b.Labels!);
        }
        Assert.Equal(whole.Raw, raw);
        Assert.Equal(whole.Labels!, labels);
    }

    [Fact]
    public async Task Csv_IndexedInBlocks_AnyRangeReadsWhatAnOffsetPerRowReads()
    {
        // A copy of the credit table with a byte-order mark, CRLF line ends, blank lines and a quoted field holding a line
        // break: ranges that start and end on, before and after the blocks' edges read the same rows whatever the block size.
        var lines = File.ReadAllLines(TableFiles.Credit);
        lines[5] = lines[5].Replace("\"rent\"", "\"re\nnt\"", StringComparison.Ordinal);
        var text = "\uFEFF" + string.Join("\r\n", lines.Select((l, i) => i % 97 == 3 ? l + "\r\n" : l)) + "\r\n";
        var path = Path.Combine(TestPaths.NewFolder(), "credit.csv");
        await File.WriteAllTextAsync(path, text);
        var blob = new LocalBlob(path);
        var one = await CsvTable.OpenAsync(blob, default, every: 1);
        Assert.Equal(4454, one.Count);
        int[] columns = [.. Enumerable.Range(0, one.Columns.Length)];
        foreach (var every in new[] { 2, 7, CsvTable.RowsPerOffset })
        {
            var blocks = await CsvTable.OpenAsync(blob, default, every);
            Assert.Equal(one.Columns, blocks.Columns);
            Assert.Equal(one.Count, blocks.Count);
            foreach (var (start, count) in new (long, int)[] { (0, 1), (0, 4454), (3, 1), (4, 5), (5, 2), (6, 1), (254, 3), (255, 1), (256, 256), (1000, 777), (4453, 1), (4447, 7) })
                Assert.Equal(await one.ReadAsync(start, count, columns, default), await blocks.ReadAsync(start, count, columns, default));
        }
        var row4 = await one.ReadAsync(4, 1, columns, default);
        Assert.Equal("re\nnt", row4[Array.IndexOf(one.Columns, "Home")][0]); // the quoted line break is in its field, not a record's end
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Parts_AnyRangeAndChosenRows_ReadWhatTheSingleFileReads(bool parquet)
    {
        // The linear fixture's six rows as parts of 2, 0 (a header alone) and 4 rows, with metadata columns.
        var folder = Path.Combine(TestPaths.NewFolder(), "parts");
        var csv = TestPaths.Fixture("tabular/tabular_linear.csv");
        var parts = await TablePartsCliTests.WritePartsAsync(csv, folder, [0, 2, 2], parquet);
        Assert.Equal(3, parts.Length);
        var single = await OpenAsync(TableFiles.LinearData(csv));
        var split = await OpenAsync(TableFiles.LinearData(folder));
        Assert.Equal(6, split.Count);
        for (var start = 0; start < 6; start++)
            for (var count = 1; start + count <= 6; count++)
            {
                var (a, b) = (await single.ReadAsync(new ShardSpec(0, start, count)), await split.ReadAsync(new ShardSpec(0, start, count)));
                Assert.Equal(a.Raw, b.Raw);
                Assert.Equal(a.Labels, b.Labels);
                Assert.Equal(a.Metadata!.Select(m => m.Values), b.Metadata!.Select(m => m.Values));
            }
        long[] chosen = [0, 1, 3, 5];
        Assert.Equal((await single.ReadRowsAsync(chosen, gap: 2)).Raw, (await split.ReadRowsAsync(chosen, gap: 2)).Raw);
    }

    [Fact]
    public async Task Parts_SeveralUnreadable_TheFirstInOrderIsTheError()
    {
        // Parts are opened several at once; the error is the first part's in name order that fails, whichever failed first.
        var folder = Path.Combine(TestPaths.NewFolder(), "parts");
        var parts = await TablePartsCliTests.WritePartsAsync(TestPaths.Fixture("tabular/tabular_linear.csv"), folder, [0, 1, 2, 3, 4, 5], parquet: true);
        await File.WriteAllTextAsync(parts[2], "not parquet");
        await File.WriteAllTextAsync(parts[4], "not parquet");
        var error = await Assert.ThrowsAsync<ExplainException>(() => OpenAsync(TableFiles.LinearData(folder)));
        Assert.StartsWith($"{parts[2]}: not a readable Parquet file: ", error.Message);
    }

    [Fact]
    public async Task Parquet_AFooterThatDoesNotParse_IsAOneLineErrorNamingTheFile()
    {
        // The magic at both ends and zeros between: Parquet.Net's Thrift reader fails on the footer with an exception of its own.
        var path = Path.Combine(TestPaths.NewFolder(), "corrupt.parquet");
        await File.WriteAllBytesAsync(path, [.. "PAR1"u8, .. new byte[100], .. "PAR1"u8]);
        var error = await Assert.ThrowsAsync<ExplainException>(() => OpenAsync(TableFiles.LinearData(path)));
        Assert.StartsWith($"{path}: not a readable Parquet file: ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public async Task Linear_EncodedByHand_EachFeatureInOrder()
    {
        var dataset = await OpenAsync(TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv")), "[\"no\", \"yes\"]");
        var data = await dataset.ReadAsync(new ShardSpec(0, 0, 6));
        // [a, (b − 1) / 2, one-hot c]; row 2's b is missing, so 0.5 stands for it: (0.5 − 1) / 2 = −0.25.
        float[] expected =
        [
            1.5f, 0.5f, 1, 0, 0,
            -0.5f, 1.5f, 0, 1, 0,
            3f, -0.25f, 0, 0, 1,
            0f, -1.5f, 0, 1, 0,
            2.5f, 0f, 0, 0, 1,
            1f, -0.25f, 1, 0, 0,
        ];
        Assert.Equal(expected, data.Raw);
        Assert.Equal([0L, 1, 0, 1, 1, 0], data.Labels!);
    }

    [Theory]
    [InlineData("""{ "occlusion": { "window": [1] }, "score-cam": { "layer": "0" } }""", "", "methods.score-cam: not for tables yet (tables take saliency, grad-x-input, integrated-gradients, smooth-grad, kernel-shap, permutation-shap, lime)")]
    [InlineData("""{ "grad-cam": { "layer": "0" } }""", "", "methods.grad-cam: not for tables yet (tables take saliency, grad-x-input, integrated-gradients, smooth-grad, kernel-shap, permutation-shap, lime)")]
    [InlineData("""{ "saliency": {} }""", """, "faithfulness": {}""", "faithfulness: not for tables yet")]
    [InlineData("""{ "saliency": {} }""", """, "trust": {}""", "trust: not for tables yet")]
    public void JobFile_ImageOnlyOptionsOnATable_Refused(string methods, string extra, string message)
    {
        var e = Assert.Throws<ExplainException>(() => JobFile.Parse($$"""
            { "model": { "uri": "m.pt" }, "data": { "table": "t.csv", "features": [{ "name": "a", "type": "numeric" }] },
              "methods": {{methods}}, "output": "out" {{extra}} }
            """, "/tmp"));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("""[{ "name": "a", "type": "numeric" }], "metadata": ["prediction"]""", "data.metadata: \"prediction\" is a column of the samples table already (index, label, prediction, confidence, loss, correct)")]
    [InlineData("[{ \"name\": \"a\", \"type\": \"numeric\" }], \"label\": \"a\"", "data: column \"a\" is named twice among features, label and metadata")]
    public void JobFile_BadColumns_NamesThem(string features, string message)
    {
        var e = Assert.Throws<ExplainException>(() => Job($$"""{ "table": "t.csv", "features": {{features}} }"""));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("""{ "name": "a", "type": "numeric", "encode": { "oneHot": ["x"] } }""", "data.features[0].encode.oneHot: only for \"type\": \"categorical\"")]
    [InlineData("""{ "name": "c", "type": "categorical" }""", "data.features[0].encode: a categorical feature needs {\"oneHot\": [levels]} or {\"index\": [levels]}")]
    [InlineData("""{ "name": "c", "type": "categorical", "encode": { "index": ["x", "y"] }, "missing": "w" }""", "data.features[0].missing: expected \"fail\" or one of the feature's levels")]
    [InlineData("""{ "name": "b", "type": "numeric", "encode": { "standardize": { "mean": 1, "std": 0 } } }""", "data.features[0].encode.standardize.std: expected a number > 0")]
    [InlineData("""{ "name": "b", "type": "numeric", "scale": 2 }""", "data.features[0].scale: unknown field")]
    public void JobFile_BadFeature_NamesTheField(string feature, string message)
    {
        var e = Assert.Throws<ExplainException>(() => Job($$"""{ "table": "t.csv", "features": [{{feature}}] }"""));
        Assert.Equal(message, e.Message);
    }
}
