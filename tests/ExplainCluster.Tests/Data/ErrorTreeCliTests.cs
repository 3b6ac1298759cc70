using System.Globalization;
using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Data;

/// <summary>
/// The error tree through <c>explain run</c> on the credit MLP: the same tree as a plain grower's on the whole table read from
/// the CSV and the samples parts, byte for byte the same in 3 shards as in 1; bad <c>errorTree</c> options in one line.
/// </summary>
public sealed class ErrorTreeCliTests
{
    private static async Task<string> RunCreditAsync(string folder, int shardSize, IReadOnlyDictionary<string, string>? environment = null)
    {
        var name = $"{shardSize}{(environment is null ? "" : "-env")}";
        var job = Path.Combine(folder, $"job-{name}.json");
        var output = Path.Combine(folder, $"out-{name}");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] }, "data": {{TableFiles.CreditData(TableFiles.Credit)}},
              "methods": { "saliency": {} }, "target": "label", "shardSize": {{shardSize}}, "batchSize": 512, "output": "{{output}}" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), environment ?? new Dictionary<string, string>(), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        return output;
    }

    /// <summary>
    /// With no tree rows kept in memory (<c>Limits:TreeRowsBytes</c> 0), each level after the first reads the rows the first staged
    /// beside the explain attempt's parts (<see cref="Engine.ErrorTree.TreeRows.Encode"/>): the same tree, bit for bit.
    /// </summary>
    [Fact]
    public async Task Run_NoTreeRowsKept_LaterLevelsReadTheStagedRows_SameTree()
    {
        var folder = TestPaths.NewFolder();
        var kept = await RunCreditAsync(folder, 1500);
        var staged = await RunCreditAsync(folder, 1500, new Dictionary<string, string> { ["Limits__TreeRowsBytes"] = "0" });
        using var a = Jobs.ReadJson(Path.Combine(kept, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(staged, "summary.json"));
        Assert.Equal(3, a.RootElement.GetProperty("errorTree").GetProperty("depth").GetInt32());
        Assert.Equal(a.RootElement.GetProperty("errorTree").GetRawText(), b.RootElement.GetProperty("errorTree").GetRawText());
        Assert.False(Directory.Exists(Path.Combine(staged, "_attempts")), "the staging, tree rows with it, is gone once the job completes");
    }

    /// <summary>
    /// A wrong limit stops an embedded run before any job, as it stops a silo: one line naming the key, exit 1, no output. It
    /// used to surface from the job grain's activation as a stack trace, and the host's own report of a failed start (a wrong
    /// ModelHost setting) printed the error twice.
    /// </summary>
    [Theory]
    [InlineData("Limits__TreeRowsBytes", "-1", "Limits:TreeRowsBytes must be at least 0")]
    [InlineData("ModelHost__WorkerThreads", "-3", "ModelHost:WorkerThreads must be from 0 (one per core) to 64")]
    public async Task Run_WrongSetting_OneLineAndNothingWritten(string key, string value, string problem)
    {
        var folder = TestPaths.NewFolder();
        var job = Path.Combine(folder, "job.json");
        var output = Path.Combine(folder, "out");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] }, "data": {{TableFiles.CreditData(TableFiles.Credit)}},
              "methods": { "saliency": {} }, "target": "label", "output": "{{output}}" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), new Dictionary<string, string> { [key] = value }, "run", job);
        Assert.Equal(1, run.ExitCode);
        Assert.Equal($"error: {problem}", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public async Task Run_CreditMlp_TreeEqualsAPlainGrowerOnTheWholeTableAndShardingChangesNoBit()
    {
        var folder = TestPaths.NewFolder();
        var single = await RunCreditAsync(folder, 4454);
        var sharded = await RunCreditAsync(folder, 1500);
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var tree = a.RootElement.GetProperty("errorTree");
        Assert.Equal(tree.GetRawText(), b.RootElement.GetProperty("errorTree").GetRawText());
        Assert.Equal((3, 20, 32), (tree.GetProperty("depth").GetInt32(), tree.GetProperty("minLeaf").GetInt32(), tree.GetProperty("bins").GetInt32()));

        // The whole table as the job read it (missing values filled as the features say), and which rows the model got wrong.
        var plain = PlainTree.Of(await File.ReadAllTextAsync(TableFiles.Credit), TableFiles.CreditFeatures);
        var wrong = new List<bool>();
        var saliency = new List<float[]>();
        for (var s = 0; s < 3; s++)
        {
            wrong.AddRange((await ParquetRows.ReadAsync(Path.Combine(sharded, "samples", $"part-{s:D5}.parquet"))).Correct.Select(c => c == false));
            var part = Path.Combine(sharded, "attributions", "saliency", $"part-{s:D5}.parquet");
            var columns = await Task.WhenAll(plain.Names.Select(n => ParquetRows.ReadFloatsAsync(part, n)));
            saliency.AddRange(Enumerable.Range(0, columns[0].Length).Select(i => columns.Select(c => c[i]).ToArray()));
        }
        Assert.Equal(4454, wrong.Count);
        var root = plain.Grow([.. wrong], depth: 3, minLeaf: 20);
        Assert.True(root.Children.Length == 2, "the credit MLP's errors split at the root");

        // Node by node in preorder: the same column and side, the same samples and errors, the threshold in the column's units.
        var leaves = new List<PlainTree.Node>();
        void Compare(JsonElement node, PlainTree.Node expected)
        {
            Assert.Equal(expected.Rows.Length, node.GetProperty("n").GetInt64());
            Assert.Equal(expected.Rows.Count(r => wrong[r]), node.GetProperty("errors").GetInt64());
            if (expected.Condition is { } condition)
            {
                var actual = node.GetProperty("condition").GetString()!;
                if (expected.Threshold is { } t)
                {
                    var cut = actual.LastIndexOf(' ');
                    Assert.Equal(condition, actual[..cut]);
                    Assert.Equal(t, double.Parse(actual[(cut + 1)..], CultureInfo.InvariantCulture), Math.Max(1e-3, Math.Abs(t) * 1e-5));
                }
                else Assert.Equal(condition, actual);
            }
            var children = node.GetProperty("children").EnumerateArray().ToArray();
            Assert.Equal(expected.Children.Length, children.Length);
            if (children.Length == 0) leaves.Add(expected);
            for (var c = 0; c < children.Length; c++) Compare(children[c], expected.Children[c]);
        }
        Compare(tree.GetProperty("root"), root);

        // Each leaf's mean |saliency| per feature, from the attribution parts, and the leaves sorted by error rate.
        var cohorts = tree.GetProperty("leaves").EnumerateArray().ToArray();
        Assert.Equal(leaves.Count, cohorts.Length);
        foreach (var cohort in cohorts)
        {
            var rows = leaves[cohort.GetProperty("leaf").GetInt32() - 1].Rows;
            var means = cohort.GetProperty("attributions")[0].GetProperty("meanAbs").EnumerateArray().Select(x => x.GetDouble()).ToArray();
            for (var j = 0; j < plain.Names.Length; j++)
                Assert.Equal(rows.Average(r => Math.Abs((double)saliency[r][j])), means[j], 9);
        }
        var rates = cohorts.Select(c => c.GetProperty("errorRate").GetProperty("value").GetDouble()).ToArray();
        Assert.Equal(rates.OrderDescending(), rates);

        // The report draws the tree and lists the cohorts; evidence.json has the finding.
        var report = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("Error cohorts", report, StringComparison.Ordinal);
        Assert.Contains(cohorts[0].GetProperty("rule").GetString()!.Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal), report, StringComparison.Ordinal);
        using var evidence = Jobs.ReadJson(Path.Combine(single, "evidence.json"));
        Assert.Contains(evidence.RootElement.GetProperty("findings").EnumerateArray(), f => f.GetProperty("topic").GetString() == "errorTree");
    }

    [Fact]
    public async Task Run_LinearTableWithMetadata_ColumnsInTheirOwnUnitsAndShardingChangesNoBit()
    {
        var folder = TestPaths.NewFolder();
        async Task<string> RunAsync(int shardSize)
        {
            var job = Path.Combine(folder, $"job-{shardSize}.json");
            await File.WriteAllTextAsync(job, $$"""
                { "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" },
                  "data": {{TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv"))}},
                  "methods": { "grad-x-input": {} }, "errorTree": { "depth": 2, "minLeaf": 1 }, "target": "label",
                  "shardSize": {{shardSize}}, "batchSize": 2, "output": "out-{{shardSize}}" }
                """);
            var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
            Assert.True(run.ExitCode == 0, run.ToString());
            return Path.Combine(folder, $"out-{shardSize}");
        }
        var single = await RunAsync(6);
        var sharded = await RunAsync(2);
        using var a = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var b = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var tree = a.RootElement.GetProperty("errorTree");
        Assert.Equal(tree.GetRawText(), b.RootElement.GetProperty("errorTree").GetRawText());

        // b is standardized (mean 1, std 2; its missing value 0.5): its edges, midway between -2, 0.5, 1, 2 and 4, in b's own units.
        var columns = tree.GetProperty("columns").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        Assert.Equal([-0.75, 0.75, 1.5, 3], columns["b"].GetProperty("edges").EnumerateArray().Select(e => Math.Round(e.GetDouble(), 5)));
        Assert.Equal(["x", "y", "z"], columns["c"].GetProperty("levels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal("metadata", columns["region"].GetProperty("kind").GetString());
        Assert.Equal(["east", "north", "south", "south, coast", "west"], columns["region"].GetProperty("levels").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(["r0", "r1", "r2", "r3", "r4", "r5"], columns["id"].GetProperty("levels").EnumerateArray().Select(l => l.GetString()));

        // The leaves cover every row once, and hold every misclassified row of the samples parts.
        var wrong = 0;
        for (var s = 0; s < 3; s++) wrong += (await ParquetRows.ReadAsync(Path.Combine(sharded, "samples", $"part-{s:D5}.parquet"))).Correct.Count(c => c == false);
        var leaves = tree.GetProperty("leaves").EnumerateArray().ToArray();
        Assert.Equal(6, leaves.Sum(l => l.GetProperty("n").GetInt64()));
        Assert.Equal(wrong, leaves.Sum(l => l.GetProperty("errors").GetInt64()));
        Assert.Equal(wrong, tree.GetProperty("errors").GetInt64());
    }

    [Theory]
    [InlineData("""{ "depth": 5 }""", "errorTree.depth: expected an integer from 1 to 4")]
    [InlineData("""{ "minLeaf": 0 }""", "errorTree.minLeaf: expected an integer from 1 to 1000000")]
    [InlineData("""{ "bins": 1 }""", "errorTree.bins: expected an integer from 2 to 255")]
    [InlineData("""{ "leaves": 8 }""", "errorTree.leaves: unknown field")]
    [InlineData("true", "errorTree: expected {\"depth\": 3, \"minLeaf\": 20, \"bins\": 32} or false")]
    public async Task Run_BadErrorTree_FailsInOneLineNamingTheField(string options, string problem)
    {
        var folder = TestPaths.NewFolder();
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/tabular_linear.pt")}}" },
              "data": {{TableFiles.LinearData(TestPaths.Fixture("tabular/tabular_linear.csv"))}},
              "methods": { "grad-x-input": {} }, "errorTree": {{options}}, "shardSize": 2, "output": "out" }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Equal($"error: {problem}", Assert.Single(run.Stderr.TrimEnd().Split('\n')));
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
    }
}

/// <summary>
/// A plain error tree on the whole table at once: rows in memory, each candidate split counted over the node's rows, no
/// histograms, the numeric edges from the columns' raw values (the job bins the model's standardized values).
/// </summary>
internal sealed class PlainTree(string[] names, double[][] values, string[][]? levels)
{
    public sealed record Node(int[] Rows, string? Condition, double? Threshold, Node[] Children);

    public string[] Names => names;

    public static PlainTree Of(string csv, string featuresJson)
    {
        var records = Csv.Records(csv, "credit");
        using var features = JsonDocument.Parse(featuresJson);
        var list = features.RootElement.EnumerateArray().ToArray();
        var names = list.Select(f => f.GetProperty("name").GetString()!).ToArray();
        var levels = list.Select(f => f.GetProperty("encode").TryGetProperty("oneHot", out var l) ? l.EnumerateArray().Select(x => x.GetString()!).ToArray() : null).ToArray();
        var values = list.Select((f, j) =>
        {
            var column = Array.IndexOf(records[0], names[j]);
            var missing = f.GetProperty("missing");
            return records.Skip(1).Select(r => r[column].Length > 0 ? r[column] : missing.ValueKind == JsonValueKind.String ? missing.GetString()! : missing.GetRawText())
                .Select(v => levels[j] is { } l ? Array.IndexOf(l, v) : double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        }).ToArray();
        return new PlainTree(names, values, levels!);
    }

    public Node Grow(bool[] wrong, int depth, int minLeaf)
    {
        var (total, errors) = ((long)wrong.Length, (long)wrong.Count(w => w));
        var edges = values.Select((v, j) => levels![j] is null ? Edges(v, 32) : []).ToArray();
        double Score(long n, long e) => (double)(n * errors - e * total) * (n * errors - e * total) / n;
        return Split([.. Enumerable.Range(0, wrong.Length)], null, null, 0);

        Node Split(int[] rows, string? condition, double? threshold, int level)
        {
            var (n, e) = ((long)rows.Length, (long)rows.Count(r => wrong[r]));
            (double Gain, Func<int, bool> Left, string L, string R, double? T)? best = null;
            for (var j = 0; level < depth && j < names.Length; j++)
            {
                var column = values[j];
                var candidates = new List<(Func<int, bool>, string, string, double?)>();
                if (levels![j] is { } l)
                {
                    var present = rows.Select(r => (int)column[r]).Distinct().ToArray();
                    int Count(int k, bool err) => rows.Count(r => (int)column[r] == k && (!err || wrong[r]));
                    var order = present.OrderBy(k => k, Comparer<int>.Create((x, y) =>
                        ((long)Count(x, true) * Count(y, false)).CompareTo((long)Count(y, true) * Count(x, false)) is var c and not 0 ? c : x.CompareTo(y))).ToArray();
                    for (var k = 1; k < order.Length; k++)
                    {
                        var set = order.Take(k).ToHashSet();
                        candidates.Add((r => set.Contains((int)column[r]), Text(names[j], l, set), Text(names[j], l, [.. Enumerable.Range(0, l.Length).Except(set)]), null));
                    }
                }
                else
                    foreach (var edge in edges[j])
                        candidates.Add((r => column[r] <= edge, $"{names[j]} ≤", $"{names[j]} >", edge));
                foreach (var (left, lt, rt, t) in candidates)
                {
                    var (ln, le) = ((long)rows.Count(left), (long)rows.Count(r => left(r) && wrong[r]));
                    var (rn, re) = (n - ln, e - le);
                    if (ln < minLeaf || rn < minLeaf || le * rn == re * ln) continue;
                    var gain = Score(ln, le) + Score(rn, re) - Score(n, e);
                    if (best is null || gain > best.Value.Gain) best = (gain, left, lt, rt, t);
                }
            }
            if (best is not { } b) return new Node(rows, condition, threshold, []);
            return new Node(rows, condition, threshold,
                [Split([.. rows.Where(b.Left)], b.L, b.T, level + 1), Split([.. rows.Where(r => !b.Left(r))], b.R, b.T, level + 1)]);
        }
    }

    /// <summary>A categorical side by the shorter list: its levels when at most half of the column's, else the others.</summary>
    private static string Text(string name, string[] levels, HashSet<int> side)
    {
        var (shown, inSide) = side.Count * 2 <= levels.Length ? (side, true) : ([.. Enumerable.Range(0, levels.Length).Except(side)], false);
        var list = Enumerable.Range(0, levels.Length).Where(shown.Contains).Select(x => levels[x]).ToArray();
        return list.Length == 1 ? $"{name} {(inSide ? "=" : "≠")} {list[0]}" : $"{name} {(inSide ? "in" : "not in")} {{{string.Join(", ", list)}}}";
    }

    /// <summary>Equal-frequency edges midway between distinct values: at the k/bins quantiles, or between every two when few.</summary>
    private static double[] Edges(double[] column, int bins)
    {
        var distinct = column.GroupBy(v => v).OrderBy(g => g.Key).Select(g => (g.Key, (long)g.Count())).ToArray();
        if (distinct.Length <= bins) return [.. distinct.Zip(distinct.Skip(1), (x, y) => (x.Key + y.Key) / 2)];
        var edges = new List<double>();
        for (var k = 1; k < bins; k++)
        {
            var (cumulative, at) = (0L, 0);
            while (at < distinct.Length && (cumulative + distinct[at].Item2) * bins < k * (long)column.Length) cumulative += distinct[at++].Item2;
            if (at + 1 >= distinct.Length) break;
            var edge = (distinct[at].Key + distinct[at + 1].Key) / 2;
            if (edges.Count == 0 || edges[^1] < edge) edges.Add(edge);
        }
        return [.. edges];
    }
}
