using System.Text.Json;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Tests.Infrastructure;
using Parquet;

namespace ExplainCluster.Tests.Data;

/// <summary>Table jobs through <c>explain run</c>: per-feature attributions by hand on a linear model, one-hot groups summed, sharding changing nothing.</summary>
public sealed class TableJobTests
{
    // The linear fixture: logits = W [a, (b − 1) / 2, c=x, c=y, c=z] + bias (tools/make_tabular_fixtures.py).
    private static readonly double[][] W = [[1, -2, 0.5, -1, 3], [-1, 0.25, 2, 0, -0.5]];
    private static readonly double[][] Vectors = [[1.5, 0.5], [-0.5, 1.5], [3, -0.25], [0, -1.5], [2.5, 0], [1, -0.25]];
    private static readonly int[] Levels = [0, 1, 2, 1, 2, 0];
    private static readonly int[] Labels = [0, 1, 0, 1, 1, 0];

    private static async Task<string> RunAsync(string folder, string data, string methods, int shardSize, string extra = "")
    {
        var job = Path.Combine(folder, $"job-{shardSize}.json");
        var output = Path.Combine(folder, $"out-{shardSize}");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{(data.Contains("credit", StringComparison.Ordinal) ? TestPaths.Fixture("tabular/credit_mlp.pt") : TestPaths.Fixture("tabular/tabular_linear.pt"))}}" {{extra}} },
              "data": {{data}}, "methods": {{methods}}, "target": "label", "shardSize": {{shardSize}}, "output": "{{output}}" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        return output;
    }

    /// <summary>A method's per-feature parquet parts in shard order: each column by name, and the dataset index.</summary>
    internal static async Task<(long[] Index, Dictionary<string, float[]> Columns)> AttributionsAsync(string output, string method)
    {
        var index = new List<long>();
        var columns = new Dictionary<string, List<float>>();
        foreach (var part in Directory.GetFiles(Path.Combine(output, "attributions", method), "part-*.parquet").Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(part);
            await using var reader = await ParquetReader.CreateAsync(stream);
            using var group = reader.OpenRowGroupReader(0);
            var n = (int)group.RowCount;
            foreach (var field in reader.Schema.GetDataFields())
            {
                if (field.Name == "index")
                {
                    var values = new long[n];
                    await group.ReadAsync(field, values.AsMemory());
                    index.AddRange(values);
                    continue;
                }
                var floats = new float[n];
                await group.ReadAsync(field, floats.AsMemory());
                (columns.TryGetValue(field.Name, out var list) ? list : columns[field.Name] = []).AddRange(floats);
            }
        }
        return ([.. index], columns.ToDictionary(c => c.Key, c => c.Value.ToArray()));
    }

    [Fact]
    public async Task Run_LinearTable_AttributionsPerFeatureAreWTimesXByHand()
    {
        var folder = TestPaths.NewFolder();
        var output = await RunAsync(folder, TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv")),
            """{ "grad-x-input": {}, "saliency": {} }""", shardSize: 4);

        // grad-x-input: ∂y_t/∂x_j = W[t, j], so a and b get W·x, and c's one-hot group sums to W[t, 2 + level] (the other levels' x are 0).
        var (index, gxi) = await AttributionsAsync(output, "grad-x-input");
        Assert.Equal([0L, 1, 2, 3, 4, 5], index);
        Assert.Equal(["a", "b", "c"], gxi.Keys.Order(StringComparer.Ordinal));
        for (var i = 0; i < 6; i++)
        {
            var w = W[Labels[i]];
            Assert.Equal(w[0] * Vectors[i][0], gxi["a"][i], 6);
            Assert.Equal(w[1] * Vectors[i][1], gxi["b"][i], 6);
            Assert.Equal(w[2 + Levels[i]], gxi["c"][i], 6);
        }
        // saliency: |W[t, j]|, and c's group sums all three levels' |W| whatever the level.
        var (_, saliency) = await AttributionsAsync(output, "saliency");
        for (var i = 0; i < 6; i++)
        {
            var w = W[Labels[i]];
            Assert.Equal(Math.Abs(w[0]), saliency["a"][i], 6);
            Assert.Equal(Math.Abs(w[2]) + Math.Abs(w[3]) + Math.Abs(w[4]), saliency["c"][i], 6);
        }

        // summary.json's features: mean |attribution| per feature over the six rows, as computed here.
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var features = summary.RootElement.GetProperty("features");
        var method = features.GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("method").GetString() == "grad-x-input");
        Assert.Equal(6, method.GetProperty("samples").GetInt64());
        var c = method.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("feature").GetString() == "c");
        Assert.Equal(Enumerable.Range(0, 6).Average(i => Math.Abs(W[Labels[i]][2 + Levels[i]])), c.GetProperty("meanAbs").GetProperty("value").GetDouble(), 6);
        Assert.True(c.GetProperty("meanAbs").GetProperty("low").GetDouble() < c.GetProperty("meanAbs").GetProperty("value").GetDouble());
        // Per class (the label, the job's target): the same mean over the rows of that class.
        var perClass = method.GetProperty("perClass").EnumerateArray().ToArray();
        Assert.Equal([0, 1], perClass.Select(p => p.GetProperty("class").GetInt32()));
        foreach (var p in perClass)
        {
            var k = p.GetProperty("class").GetInt32();
            var rows = Enumerable.Range(0, 6).Where(i => Labels[i] == k).ToArray();
            Assert.Equal(rows.Length, p.GetProperty("samples").GetInt64());
            Assert.Equal(rows.Average(i => Math.Abs(W[k][2 + Levels[i]])), p.GetProperty("meanAbs")[2].GetProperty("value").GetDouble(), 6);
            Assert.Equal(rows.Average(i => Math.Abs(W[k][0] * Vectors[i][0])), p.GetProperty("meanAbs")[0].GetProperty("value").GetDouble(), 6);
        }

        // Metadata columns travel into the samples table as text, the CSV's quoting undone.
        await using (var stream = File.OpenRead(Path.Combine(output, "samples", "part-00001.parquet")))
        await using (var reader = await ParquetReader.CreateAsync(stream))
        {
            using var group = reader.OpenRowGroupReader(0);
            var region = new string?[2];
            await group.ReadAsync(reader.Schema.GetDataFields().Single(f => f.Name == "region"), region.AsMemory());
            Assert.Equal(new string?[] { "south, coast", "west" }, region);
        }

        // The report stands (no pixel grids) with the feature table.
        var report = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        Assert.Contains("Feature importance", report);
        Assert.Contains("<td class=\"l\">c</td>", report);
    }

    [Fact]
    public async Task Run_CreditMlp_FourShardsEqualOneShardByteForByte()
    {
        var folder = TestPaths.NewFolder();
        const string Methods = """{ "saliency": {}, "grad-x-input": {}, "integrated-gradients": { "steps": 16 }, "smooth-grad": { "samples": 4 } }""";
        var data = TableFiles.CreditData(TableFiles.Credit);
        var single = await RunAsync(folder, data, Methods, shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        // Shards of 5 batches (batchSize 256): every batch holds the same rows as in the single run. (A batch of other rows
        // changes the CPU's matrix products in the last bits, so shard sizes that cut batches agree only to float rounding.)
        var sharded = await RunAsync(folder, data, Methods, shardSize: 1280, extra: ", \"classes\": [\"bad\", \"good\"]");
        Assert.Equal(4, Directory.GetFiles(Path.Combine(sharded, "attributions", "saliency"), "part-*.parquet").Length);
        foreach (var method in new[] { "saliency", "grad-x-input", "integrated-gradients", "smooth-grad" })
        {
            var (indexA, a) = await AttributionsAsync(single, method);
            var (indexB, b) = await AttributionsAsync(sharded, method);
            Assert.Equal(Enumerable.Range(0, 4454).Select(i => (long)i), indexA);
            Assert.Equal(indexA, indexB);
            Assert.Equal(13, a.Count);
            foreach (var (feature, values) in a) Assert.Equal(values, b[feature]);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Run_LinearTableWithABackgroundPerLabel_KernelShapIsWTimesXMinusTheChosenRowsMean(int perLabel)
    {
        var folder = TestPaths.NewFolder();
        var methods = $$"""{ "kernel-shap": { "samples": 6, "background": { "perLabel": {{perLabel}}, "seed": 5 } } }""";
        var data = TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv"));
        var single = await RunAsync(folder, data, methods, shardSize: 6);
        var sharded = await RunAsync(folder, data, methods, shardSize: 4);

        // By hand: each label's rows with the smallest (seed 5, dataset index) keys, and the vectors' mean over them.
        var chosen = Enumerable.Range(0, 6).GroupBy(i => Labels[i])
            .SelectMany(g => g.OrderBy(i => ExplainCluster.Engine.Methods.SampleSeeds.For(5, i)).ThenBy(i => i).Take(perLabel)).ToArray();
        Assert.Equal(2 * perLabel, chosen.Length);
        double Mean(Func<int, double> element) => chosen.Average(element);
        var (index, phi) = await AttributionsAsync(single, "kernel-shap");
        Assert.Equal([0L, 1, 2, 3, 4, 5], index);
        for (var i = 0; i < 6; i++)
        {
            var w = W[Labels[i]];
            Assert.Equal(w[0] * (Vectors[i][0] - Mean(r => Vectors[r][0])), phi["a"][i], 6);
            Assert.Equal(w[1] * (Vectors[i][1] - Mean(r => Vectors[r][1])), phi["b"][i], 6);
            Assert.Equal(Enumerable.Range(0, 3).Sum(l => w[2 + l] * ((Levels[i] == l ? 1 : 0) - Mean(r => Levels[r] == l ? 1 : 0))), phi["c"][i], 6);
        }
        var (_, shardedPhi) = await AttributionsAsync(sharded, "kernel-shap");
        foreach (var (feature, values) in phi) Assert.Equal(values, shardedPhi[feature]);
    }

    [Fact]
    public async Task Run_CreditKMeansBackground_FourShardsEqualOneShardByteForByte()
    {
        var folder = TestPaths.NewFolder();
        // A sample of 300 rows from every part of the table, summarised by 8 weighted centroids in each shard.
        const string Methods = """
            { "kernel-shap": { "samples": 200, "background": { "kmeans": 8, "samples": 300, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } },
              "permutation-shap": { "permutations": 4, "background": { "kmeans": 8, "samples": 300, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } } }
            """;
        var data = TableFiles.CreditData(TableFiles.Credit);
        var single = await RunAsync(folder, data, Methods, shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        var sharded = await RunAsync(folder, data, Methods, shardSize: 1280, extra: ", \"classes\": [\"bad\", \"good\"]");
        foreach (var method in new[] { "kernel-shap", "permutation-shap" })
        {
            var (indexA, a) = await AttributionsAsync(single, method);
            var (indexB, b) = await AttributionsAsync(sharded, method);
            Assert.InRange(indexA.Length, 5, 40);
            Assert.Equal(indexA, indexB);
            Assert.Equal(13, a.Count);
            Assert.Contains(a["Income"], v => v != 0);
            foreach (var (feature, values) in a) Assert.Equal(values, b[feature]);
        }
        // Efficiency against the weighted f(∅): Σφ = f(x) − f(∅) on every explained row.
        var (explained, _) = await AttributionsAsync(sharded, "kernel-shap");
        var deltas = new List<float>();
        foreach (var part in Directory.GetFiles(Path.Combine(sharded, "samples"), "part-*.parquet").Order(StringComparer.Ordinal))
            deltas.AddRange((await ParquetRows.ReadNullableFloatsAsync(part, "kernel_shap_delta")).OfType<float>());
        Assert.Equal(explained.Length, deltas.Count);
        Assert.All(deltas, d => Assert.Equal(0, d, 1e-5));

        // The summary, not the 300 rows themselves, stood for the background.
        var rows = await RunAsync(folder, data, Methods.Replace("\"kmeans\": 8, ", "", StringComparison.Ordinal), shardSize: 2560, extra: ", \"classes\": [\"bad\", \"good\"]");
        var (plainIndex, plain) = await AttributionsAsync(rows, "kernel-shap");
        var (_, summarised) = await AttributionsAsync(single, "kernel-shap");
        Assert.Equal(explained, plainIndex);
        Assert.Contains(plain["Income"].Zip(summarised["Income"]), p => Math.Abs(p.First - p.Second) > 1e-3);
    }

    [Fact]
    public async Task Run_ASubsetThatLeavesShardsEmpty_CompletesAndEqualsOneShard()
    {
        // About 9 rows of 4,454 in 7 shards: some shards explain none with kernel-shap, and their partials (its map shape, the
        // error tree's per-feature methods) must still merge with the others' (the job failed so: "shard 1 is missing").
        var folder = TestPaths.NewFolder();
        const string Methods = """
            { "saliency": {}, "kernel-shap": { "samples": 64, "background": { "samples": 10, "seed": 0 }, "subset": { "fraction": 0.002, "seed": 0 } } }
            """;
        var data = TableFiles.CreditData(TableFiles.Credit);
        var single = await RunAsync(folder, data, Methods, shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        var sharded = await RunAsync(folder, data, Methods, shardSize: 640, extra: ", \"classes\": [\"bad\", \"good\"]");
        var rowsPerPart = new List<long>();
        foreach (var part in Directory.GetFiles(Path.Combine(sharded, "attributions", "kernel-shap"), "part-*.parquet").Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(part);
            await using var reader = await ParquetReader.CreateAsync(stream);
            rowsPerPart.Add(reader.RowGroupCount == 0 ? 0 : reader.OpenRowGroupReader(0).RowCount);
        }
        Assert.Equal(7, rowsPerPart.Count);
        Assert.Contains(0L, rowsPerPart);
        var (indexA, a) = await AttributionsAsync(single, "kernel-shap");
        var (indexB, b) = await AttributionsAsync(sharded, "kernel-shap");
        Assert.Equal(indexA, indexB);
        Assert.Equal(rowsPerPart.Sum(), indexB.Length);
        foreach (var (feature, values) in a) Assert.Equal(values, b[feature]);
        using var summary = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        Assert.Equal(indexB.Length, summary.RootElement.GetProperty("methods").GetProperty("kernel-shap").GetProperty("samples").GetInt64());
        Assert.Equal([13], summary.RootElement.GetProperty("methods").GetProperty("kernel-shap").GetProperty("mapShape").EnumerateArray().Select(d => d.GetInt32()));
        Assert.True(summary.RootElement.TryGetProperty("errorTree", out _));
    }

    [Fact]
    public async Task Run_CreditPerturbation_FourShardsEqualOneShardByteForByte()
    {
        var folder = TestPaths.NewFolder();
        // Background rows come from every part of the table, so most shards read some of them from the others' rows.
        const string Methods = """
            { "kernel-shap": { "samples": 200, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } },
              "permutation-shap": { "permutations": 4, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 } },
              "lime": { "samples": 300, "training": { "samples": 200 }, "subset": { "fraction": 0.004, "seed": 1 } } }
            """;
        var data = TableFiles.CreditData(TableFiles.Credit);
        var single = await RunAsync(folder, data, Methods, shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        var sharded = await RunAsync(folder, data, Methods, shardSize: 1280, extra: ", \"classes\": [\"bad\", \"good\"]");
        foreach (var method in new[] { "kernel-shap", "permutation-shap", "lime" })
        {
            var (indexA, a) = await AttributionsAsync(single, method);
            var (indexB, b) = await AttributionsAsync(sharded, method);
            Assert.InRange(indexA.Length, 5, 40);
            Assert.Equal(indexA, indexB);
            Assert.Equal(JsonDocument.Parse(TableFiles.CreditFeatures).RootElement.EnumerateArray().Select(f => f.GetProperty("name").GetString()!).Order(StringComparer.Ordinal),
                a.Keys.Where(k => k is not ("kernel_shap_delta" or "lime_r2" or "lime_intercept")).Order(StringComparer.Ordinal));
            foreach (var (feature, values) in a) Assert.Equal(values, b[feature]);
        }
        // They feed the per-feature importance: mean |φ| per feature over the rows each explained.
        using var summary = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var kernel = summary.RootElement.GetProperty("features").GetProperty("methods").EnumerateArray().Single(m => m.GetProperty("method").GetString() == "kernel-shap");
        var (_, phi) = await AttributionsAsync(sharded, "kernel-shap");
        Assert.Equal(phi["Income"].Length, kernel.GetProperty("samples").GetInt64());
        var income = kernel.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("feature").GetString() == "Income");
        Assert.Equal(phi["Income"].Average(v => Math.Abs((double)v)), income.GetProperty("meanAbs").GetProperty("value").GetDouble(), 6);
        // Per class, over the rows of the subset whose label (the target) is that class, found through the samples table.
        var label = new Dictionary<long, int>();
        foreach (var part in Directory.GetFiles(Path.Combine(sharded, "samples"), "part-*.parquet"))
        {
            var rows = await ParquetRows.ReadAsync(part);
            for (var i = 0; i < rows.Index.Length; i++) label[rows.Index[i]] = rows.Label[i]!.Value;
        }
        var (subset, _) = await AttributionsAsync(sharded, "kernel-shap");
        var incomeAt = Array.IndexOf(JsonDocument.Parse(TableFiles.CreditFeatures).RootElement.EnumerateArray().Select(f => f.GetProperty("name").GetString()).ToArray(), "Income");
        foreach (var p in kernel.GetProperty("perClass").EnumerateArray())
        {
            var k = p.GetProperty("class").GetInt32();
            var rows = Enumerable.Range(0, subset.Length).Where(i => label[subset[i]] == k).ToArray();
            Assert.Equal(rows.Length, p.GetProperty("samples").GetInt64());
            if (rows.Length > 0)
                Assert.Equal(rows.Average(i => Math.Abs((double)phi["Income"][i])), p.GetProperty("meanAbs")[incomeAt].GetProperty("value").GetDouble(), 6);
        }
        Assert.Equal(phi["Income"].Length, kernel.GetProperty("perClass").EnumerateArray().Sum(p => p.GetProperty("samples").GetInt64()));
    }

    [Fact]
    public async Task Run_Credit_ReportNamesTheTableItsLabelColumnAndEachFeaturesEncoding()
    {
        // A regulator reads the data's provenance in the report: the table as the job named it, the column the labels come
        // from (the report used to say "none" beside its own error analysis), and how each column became the model's vector.
        var folder = TestPaths.NewFolder();
        var output = await RunAsync(folder, TableFiles.CreditData(TableFiles.Credit), """{ "saliency": {} }""", shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        var html = await File.ReadAllTextAsync(Path.Combine(output, "report.html"));
        var start = html.IndexOf("<h4>Data</h4>", StringComparison.Ordinal);
        var data = html[start..html.IndexOf("<h4>Job</h4>", start, StringComparison.Ordinal)];
        var rows = System.Text.RegularExpressions.Regex.Matches(data, "<tr><th[^>]*>([^<]*)</th><td class=\"l\">([^<]*)</td></tr>")
            .ToDictionary(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value), m => System.Net.WebUtility.HtmlDecode(m.Groups[2].Value));
        Assert.Equal("…/" + Path.GetFileName(TableFiles.Credit), rows["table"]);
        Assert.Equal("the table's column \"Status\"", rows["label source"]);
        Assert.StartsWith("13 columns of the table, encoded into the model's vector of 26", rows["features"], StringComparison.Ordinal);
        Assert.DoesNotContain("preprocessing", rows.Keys);
        var encodings = System.Net.WebUtility.HtmlDecode(data);
        Assert.Contains("<td class=\"l\">Home</td><td class=\"l\">categorical</td><td class=\"l\">one-hot over 6 levels: ignore, other, owner, parents, priv, rent</td><td class=\"l\">becomes \"owner\"</td>", encodings, StringComparison.Ordinal);
        Assert.Contains("<td class=\"l\">Seniority</td><td class=\"l\">numeric</td><td class=\"l\">(x − 7.986753480017962) / 8.173387912732847</td><td class=\"l\">becomes 5.0</td>", encodings, StringComparison.Ordinal);
        // The limitations and the appendix know the labels too (the labels came from no labels file), and a table's report
        // draws no sample images, so it does not apologise for leaving them out.
        Assert.Contains("Accuracy", html, StringComparison.Ordinal);
        Assert.DoesNotContain("The job had no labels", html, StringComparison.Ordinal);
        Assert.DoesNotContain("made without access to the inputs", html, StringComparison.Ordinal);
        Assert.Contains("WHERE correct = false ORDER BY loss DESC", System.Net.WebUtility.HtmlDecode(html), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(26, 256, 8192)]      // the credit MLP's vector: the most rows
    [InlineData(1000, 256, 1048)]    // a wide table: 4 MiB of input
    [InlineData(100_000, 256, 256)]  // wider still: the job's batch
    [InlineData(26, 10_000, 10_000)] // a batch larger than the budget
    public void RowBudget_IsThousandsOfRowsOrFourMebibytesOfInput(int width, int batchSize, int rows)
    {
        Assert.Equal(rows, FeatureGroups.RowBudget(batchSize, width));
    }

    [Fact]
    public async Task Run_CreditPerturbation_TheTablesRowBudgetGivesTheBitsOfBatchSizeRows()
    {
        // A table job sends up to 8192 perturbed rows through the model at once where a batch is 256: kernel-shap's 4,800
        // rows per explained row, permutation-shap's 2,616 and lime's 3,001 go in one forward instead of 12–19. Each row's
        // output, and so every attribution, must be the same as with "maxBatch": 256.
        var folder = TestPaths.NewFolder();
        const string Methods = """
            { "kernel-shap": { "samples": 200, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 }MAX },
              "permutation-shap": { "permutations": 4, "background": { "samples": 24, "seed": 3 }, "subset": { "fraction": 0.004, "seed": 1 }MAX },
              "lime": { "samples": 3001, "training": { "samples": 200 }, "subset": { "fraction": 0.004, "seed": 1 }MAX } }
            """;
        var data = TableFiles.CreditData(TableFiles.Credit);
        var budget = await RunAsync(folder, data, Methods.Replace("MAX", "", StringComparison.Ordinal), shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        var batch = await RunAsync(TestPaths.NewFolder(), data, Methods.Replace("MAX", ", \"maxBatch\": 256", StringComparison.Ordinal), shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        foreach (var method in new[] { "kernel-shap", "permutation-shap", "lime" })
        {
            var (indexA, a) = await AttributionsAsync(budget, method);
            var (indexB, b) = await AttributionsAsync(batch, method);
            Assert.InRange(indexA.Length, 5, 40);
            Assert.Equal(indexA, indexB);
            foreach (var (feature, values) in a) Assert.Equal(values, b[feature]);
        }
    }

    [Fact]
    public async Task Run_CreditLimeSpPick_ThreeShardsEqualOneAndIsThePickOfTheParquet()
    {
        var folder = TestPaths.NewFolder();
        const string Methods = """{ "lime": { "samples": 300, "training": { "samples": 200 }, "subset": { "fraction": 0.01, "seed": 1 }, "spPick": 4, "spFeatures": 3 } }""";
        var data = TableFiles.CreditData(TableFiles.Credit);
        var single = await RunAsync(folder, data, Methods, shardSize: 4454, extra: ", \"classes\": [\"bad\", \"good\"]");
        // Shards of 6 batches (batchSize 256): three of them.
        var sharded = await RunAsync(folder, data, Methods, shardSize: 1536, extra: ", \"classes\": [\"bad\", \"good\"]");
        Assert.Equal(3, Directory.GetFiles(Path.Combine(sharded, "attributions", "lime"), "part-*.parquet").Length);
        using var one = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var three = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var pick = three.RootElement.GetProperty("spLime");
        Assert.Equal(one.RootElement.GetProperty("spLime").GetRawText(), pick.GetRawText());

        // The pick computed here from the attributions parquet: every explained row's weights, by dataset index.
        var (index, columns) = await AttributionsAsync(sharded, "lime");
        var features = pick.GetProperty("features").EnumerateArray().Select(f => f.GetString()!).ToArray();
        var order = Enumerable.Range(0, index.Length).OrderBy(i => index[i]).ToArray();
        var weights = order.Select(i => features.Select(f => (double)columns[f][i]).ToArray()).ToArray();
        var (rows, coverage) = ExplainCluster.Engine.Tabular.SubmodularPick.Pick(weights, 4, 3);
        Assert.Equal(index.Length, pick.GetProperty("explained").GetInt64());
        var picked = pick.GetProperty("picked").EnumerateArray().ToArray();
        Assert.Equal(rows.Select(r => index[order[r]]), picked.Select(p => p.GetProperty("index").GetInt64()));
        Assert.Equal(coverage, picked.Select(p => p.GetProperty("coverage").GetDouble()));
        Assert.Equal(weights[rows[0]], picked[0].GetProperty("weights").EnumerateArray().Select(w => w.GetDouble()));
        Assert.Equal(4, picked.Select(p => p.GetProperty("index").GetInt64()).Distinct().Count());

        // The report lists them in pick order, each with its dataset index.
        var report = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "report", sharded);
        Assert.True(report.ExitCode == 0, report.ToString());
        var html = await File.ReadAllTextAsync(Path.Combine(sharded, "report.html"));
        Assert.Contains("Representative lime explanations", html);
        for (var p = 0; p < picked.Length; p++) Assert.Contains($"<tr><td>{p + 1}</td><td>{picked[p].GetProperty("index").GetInt64()}</td>", html);
    }
}
