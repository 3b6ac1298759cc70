using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

public class JobGrainTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Run_ShardedAndSingleShard_GiveSameOutputs()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 600);
        var single = Path.Combine(folder, "single");
        var sharded = Path.Combine(folder, "sharded");
        var a = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, single, shardSize: 600), folder);
        var b = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, sharded, shardSize: 128), folder);
        Assert.Equal(JobState.Completed, a.State);
        Assert.Equal(JobState.Completed, b.State);
        Assert.Equal(1, a.ShardsTotal);
        Assert.Equal(5, b.ShardsTotal);

        using var sa = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        using var sb = Jobs.ReadJson(Path.Combine(sharded, "summary.json"));
        var ea = sa.RootElement.GetProperty("errorAnalysis");
        var eb = sb.RootElement.GetProperty("errorAnalysis");
        Assert.Equal(File.ReadAllBytes(Path.Combine(single, "summary", "confusion.npy")), File.ReadAllBytes(Path.Combine(sharded, "summary", "confusion.npy")));
        Assert.Equal(ea.GetProperty("accuracy").GetDouble(), eb.GetProperty("accuracy").GetDouble());
        Assert.Equal(ea.GetProperty("meanNll").GetDouble(), eb.GetProperty("meanNll").GetDouble(), 6);
        Assert.Equal(ea.GetProperty("expectedCalibrationError").GetDouble(), eb.GetProperty("expectedCalibrationError").GetDouble(), 6);
        Assert.Equal(ea.GetProperty("highestLoss").EnumerateArray().Select(e => e.GetProperty("index").GetInt64()),
                     eb.GetProperty("highestLoss").EnumerateArray().Select(e => e.GetProperty("index").GetInt64()));
        foreach (var method in new[] { "saliency", "grad-x-input", "grad-cam" })
        {
            var ma = sa.RootElement.GetProperty("methods").GetProperty(method);
            var mb = sb.RootElement.GetProperty("methods").GetProperty(method);
            Assert.Equal(ma.GetProperty("perClass").ToString(), mb.GetProperty("perClass").ToString());
            // Sums of a different grouping round differently in the last bits only.
            foreach (var file in new[] { "classMeans", "meanAbsMap" })
            {
                var va = await NpyFiles.ReadFloatsAsync(Path.Combine(single, ma.GetProperty(file).GetString()!));
                var vb = await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, mb.GetProperty(file).GetString()!));
                Assert.Equal(va.Length, vb.Length);
                for (var i = 0; i < va.Length; i++) Assert.Equal(va[i], vb[i], 1e-6 * Math.Max(1, Math.Abs(va[i])));
            }
        }

        // The per-sample maps agree too: the single part equals the five parts concatenated.
        var whole = await NpyFiles.ReadFloatsAsync(Path.Combine(single, "attributions", "grad-cam", "part-00000.npy"));
        var parts = new List<float>();
        for (var s = 0; s < 5; s++) parts.AddRange(await NpyFiles.ReadFloatsAsync(Path.Combine(sharded, "attributions", "grad-cam", $"part-{s:D5}.npy")));
        Assert.Equal(600 * 49, whole.Length);
        for (var i = 0; i < whole.Length; i++) Assert.Equal(whole[i], parts[i], 4);
    }

    [Fact]
    public async Task Run_Completed_WritesTheDocumentedLayout()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var output = Path.Combine(folder, "out");
        var status = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output, shardSize: 200), folder);
        Assert.Equal(JobState.Completed, status.State);

        using var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json"));
        var root = manifest.RootElement;
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal(300, root.GetProperty("samples").GetInt64());
        Assert.Equal(64, root.GetProperty("modelSha256").GetString()!.Length);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(images))), root.GetProperty("inputsSha256").GetString());
        Assert.Equal(new[] { (0L, 200L), (200L, 100L) },
            root.GetProperty("shards").EnumerateArray().Select(s => (s.GetProperty("start").GetInt64(), s.GetProperty("count").GetInt64())));

        foreach (var part in new[] { "part-00000", "part-00001" })
        {
            Assert.True(File.Exists(Path.Combine(output, "samples", part + ".parquet")));
            foreach (var method in new[] { "saliency", "grad-x-input", "grad-cam" })
                Assert.True(File.Exists(Path.Combine(output, "attributions", method, part + ".npy")));
        }
        var saliency = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "attributions", "saliency", "part-00001.npy")));
        Assert.Equal(new long[] { 100, 1, 28, 28 }, saliency.Header.Shape);
        var cam = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "attributions", "grad-cam", "part-00000.npy")));
        Assert.Equal(new long[] { 200, 7, 7 }, cam.Header.Shape);

        var rows = await ParquetRows.ReadAsync(Path.Combine(output, "samples", "part-00001.parquet"));
        Assert.Equal(Enumerable.Range(200, 100).Select(i => (long)i), rows.Index);
        var labelValues = await new ArrayFile[] { await ArrayFile.OpenAsync(new LocalBlob(labels)) }[0].ReadIntegersAsync(200, 100);
        Assert.Equal(labelValues.Select(l => (int?)l), rows.Label);
        Assert.Equal(rows.Label.Zip(rows.Prediction).Select(p => (bool?)(p.First == p.Second)), rows.Correct);
        Assert.True(File.Exists(Path.Combine(output, "report.html")));
        Assert.True(File.Exists(Path.Combine(output, "plots", "confusion-matrix.png")));

        // Beside summary.json: the confusion matrix and, per method, the mean |map| and one mean map per class with samples.
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var confusion = await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "summary", "confusion.npy")));
        Assert.Equal(new long[] { 10, 10 }, confusion.Header.Shape);
        Assert.Equal(300, (await confusion.ReadIntegersAsync(0, 10)).Sum());
        var gradCam = summary.RootElement.GetProperty("methods").GetProperty("grad-cam");
        var present = gradCam.GetProperty("perClass").GetArrayLength();
        Assert.Equal(300, gradCam.GetProperty("perClass").EnumerateArray().Sum(c => c.GetProperty("count").GetInt64()));
        Assert.Equal(new long[] { present, 7, 7 }, (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "summary", "grad-cam-class-means.npy")))).Header.Shape);
        Assert.Equal(new long[] { 7, 7 }, (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "summary", "grad-cam-mean-abs.npy")))).Header.Shape);
        Assert.Equal(new long[] { present, 1, 28, 28 }, (await ArrayFile.OpenAsync(new LocalBlob(Path.Combine(output, "summary", "input-class-means.npy")))).Header.Shape);
    }

    [Fact]
    public async Task Run_WithoutLabels_ExplainsPredictionsAndLeavesErrorAnalysisOut()
    {
        // Production audits usually have no labels: predictions and maps, but no accuracy to claim.
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var unlabelled = Path.Combine(folder, "unlabelled");
        var labelled = Path.Combine(folder, "labelled");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, null, unlabelled, shardSize: 128), folder)).State);
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, labelled, shardSize: 128), folder)).State);

        using var summary = Jobs.ReadJson(Path.Combine(unlabelled, "summary.json"));
        Assert.False(summary.RootElement.TryGetProperty("errorAnalysis", out var errors) && errors.ValueKind != System.Text.Json.JsonValueKind.Null);
        var rows = new List<ParquetRows>();
        foreach (var part in Directory.GetFiles(Path.Combine(unlabelled, "samples"), "*.parquet").Order()) rows.Add(await ParquetRows.ReadAsync(part));
        Assert.All(rows.SelectMany(r => r.Label), l => Assert.Null(l));
        Assert.All(rows.SelectMany(r => r.Correct), c => Assert.Null(c));
        // Per-class statistics group by the predicted class, so their counts are the prediction counts.
        var predicted = rows.SelectMany(r => r.Prediction).GroupBy(p => p).ToDictionary(g => g.Key, g => (long)g.Count());
        foreach (var c in summary.RootElement.GetProperty("methods").GetProperty("saliency").GetProperty("perClass").EnumerateArray())
            Assert.Equal(predicted.GetValueOrDefault(c.GetProperty("class").GetInt32()), c.GetProperty("count").GetInt64());
        // The maps explain the prediction either way, so they match the labelled run's.
        Assert.Equal(await NpyFiles.ReadFloatsAsync(Path.Combine(labelled, "attributions", "grad-cam", "part-00001.npy")),
                     await NpyFiles.ReadFloatsAsync(Path.Combine(unlabelled, "attributions", "grad-cam", "part-00001.npy")));

        var html = await File.ReadAllTextAsync(Path.Combine(unlabelled, "report.html"));
        Assert.DoesNotContain("Error analysis", html);
        Assert.DoesNotContain("Highest-loss samples", html);
        Assert.Contains("Class-mean grad-cam", html);
    }
}
