using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.History;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains.Passes;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Compare;

/// <summary>
/// Two runs of real models on the same Fashion-MNIST images, compared: with itself (nothing changed), with a retraining
/// (the flips are the two runs' predictions), with a model whose Shirt evidence was scrambled (Shirt named first), however
/// the runs were sharded; and a job that compares itself with its history's previous run and flags drift.
/// </summary>
public class CompareJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private const int Samples = 300;

    [Fact]
    public async Task Compare_RunWithItself_NothingChanged()
    {
        var data = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 100);
        var c = await new Comparer(new BlobLocator(null)).CompareAsync(a, a, new CompareGate(0, 1, 1));
        Assert.True(c.SameInputs);
        Assert.Equal(0, c.Predictions.Accuracy.Value);
        Assert.Equal((0L, 0L, 0L), (c.Predictions.BecameWrong!.Value, c.Predictions.BecameRight!.Value, c.Predictions.PredictionChanged!.Value));
        Assert.Equal(1, c.Predictions.McNemarP);
        var flips = c.Predictions.Flips!;
        for (var i = 0; i < flips.Length; i++)
            for (var j = 0; j < flips.Length; j++) if (i != j) Assert.Equal(0, flips[i][j]);
        Assert.All(c.Classes, k => Assert.Equal(0, k.Recall.Value));
        Assert.Equal(["grad-cam", "grad-x-input", "saliency"], c.Methods.Select(m => m.Method));
        Assert.All(c.Methods, m =>
        {
            Assert.Equal(Samples, m.Samples);
            Assert.Equal((1.0, 1.0, 1.0), (m.Spearman.Median, m.Spearman.P10, m.TopOverlap.Median));
            Assert.Equal(1, m.Ndcg, 12);
            Assert.All(m.ClassMeanCorrelation, k => Assert.Equal(1, k.Correlation, 9));
        });
        // The strictest gate passes: nothing fell, nothing moved.
        Assert.Empty(c.Drift);
    }

    [Fact]
    public async Task Compare_Retrained_FlipsAreTheTwoRunsPredictions_AndShardingChangesNothing()
    {
        var data = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 300);
        var sharded = await CompareRuns.RunAsync(one.Grains, data, "b-sharded", TestPaths.Fixture("compare/seed1.pt"), 70);
        var single = await CompareRuns.RunAsync(one.Grains, data, "b-single", TestPaths.Fixture("compare/seed1.pt"), 300);
        var comparer = new Comparer(new BlobLocator(null));
        var c = await comparer.CompareAsync(a, sharded);

        var predA = await PredictionsAsync(a);
        var predB = await PredictionsAsync(sharded);
        var expected = new long[10, 10];
        for (var i = 0; i < Samples; i++) expected[predA[i], predB[i]]++;
        for (var i = 0; i < 10; i++)
            for (var j = 0; j < 10; j++) Assert.Equal(expected[i, j], c.Predictions.Flips![i][j]);
        Assert.Equal(predA.Zip(predB).Count(p => p.First != p.Second), c.Predictions.PredictionChanged);
        Assert.True(c.Predictions.PredictionChanged > 0, "a retraining with another seed changed no prediction");
        Assert.All(c.Methods, m => Assert.InRange(m.Spearman.Median, -1, 0.9999));

        // Every statistic the same whichever way B was sharded.
        var d = await comparer.CompareAsync(a, single);
        Assert.Equal(Json(c with { Candidate = d.Candidate }), Json(d));
    }

    [Fact]
    public async Task RangeFold_PartsArrivingOutOfOrderOrTwice_FoldAsInRangeOrder()
    {
        // The job grain folds the compare pass's parts as they arrive; whatever the order, the fold is the range-order fold.
        var data = await CompareRuns.DataAsync(Samples);
        var locator = new BlobLocator(null);
        var a = await RunOutputs.OpenAsync(locator, await CompareRuns.RunAsync(one.Grains, data, "fold-a", TestPaths.Sample("model.pt"), 300), "baseline");
        var b = await RunOutputs.OpenAsync(locator, await CompareRuns.RunAsync(one.Grains, data, "fold-b", TestPaths.Fixture("compare/seed1.pt"), 300), "candidate");
        var parts = new List<byte[]>();
        for (var start = 0; start < Samples; start += 100) parts.Add((await ComparePart.ComputeAsync(a, b, true, start, 100)).Encode());
        ComparePart? inOrder = null;
        foreach (var p in parts) inOrder = ComparePart.Fold(inOrder, ComparePart.Decode(p));

        var fold = new RangeFold();
        fold.Add(2, parts[2]);
        Assert.Null(fold.Total);
        Assert.Equal(1, fold.Waiting);
        fold.Add(0, parts[0]);
        fold.Add(0, parts[0]); // reported twice: folded once
        Assert.Equal(1, fold.Waiting);
        fold.Add(1, parts[1]);
        Assert.Equal(0, fold.Waiting);
        Assert.Equal(inOrder!.Encode(), fold.Total!.Encode());
    }

    [Fact]
    public async Task CompareHtml_DrawsTheMostChangedSamplesAsideEachOther_AltTextCarriesTheNumbers()
    {
        var data = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 300);
        var b = await CompareRuns.RunAsync(one.Grains, data, "b", TestPaths.Fixture("compare/seed1.pt"), 300);
        var folder = Path.Combine(data.Folder, "cmp");
        var c = await new Comparer(new BlobLocator(null)).WriteAsync(new LocalBlob(folder), a, b);
        var html = File.ReadAllText(Path.Combine(folder, ComparisonOutput.Html));
        foreach (var m in c.Methods)
        {
            // One grid per method: a row per drawn sample (input, A, B), its PNG beside the page and inlined in it.
            using var png = SkiaSharp.SKBitmap.Decode(File.ReadAllBytes(Path.Combine(folder, $"changed-{m.Method}.png")));
            Assert.True(png.Width > 3 * 120 && png.Width < 4 * 140, $"{m.Method}: {png.Width} px wide for 3 columns");
            var worst = m.MostChanged[0];
            var size = MapSize(a, m.Method);
            var mapA = (await NpyFiles.ReadFloatsAsync(Path.Combine(a, "attributions", m.Method, "part-00000.npy"))).Skip((int)worst.Index * size).Take(size).ToArray();
            var alt = System.Net.WebUtility.HtmlDecode(html);
            Assert.Contains(FormattableString.Invariant($"Sample #{worst.Index} (label "), alt);
            Assert.Contains(FormattableString.Invariant($"rank correlation of |map| {worst.Spearman:0.000}, top-10 % overlap {worst.TopOverlap:0.000}"), alt);
            // A's peak as the alt text writes it, from the map read directly (grad-cam's maps have one channel; the others too on Fashion-MNIST).
            Assert.Contains($"largest {ExplainCluster.Engine.Report.MapScale.Number(mapA.Max())} at", alt);
        }
        Assert.Equal(c.Methods.Length, System.Text.RegularExpressions.Regex.Count(html, "<img alt=\"Sample #"));
    }

    private static int MapSize(string output, string method)
    {
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, OutputLayout.Summary))).RootElement;
        return summary.GetProperty("methods").GetProperty(method).GetProperty("mapShape").EnumerateArray().Aggregate(1, (p, d) => p * d.GetInt32());
    }

    [Fact]
    public async Task Compare_OneClassScrambled_NamesThatClassFirst()
    {
        var data = await CompareRuns.DataAsync(Samples);
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 150);
        var b = await CompareRuns.RunAsync(one.Grains, data, "b", TestPaths.Fixture("compare/shirt_permuted.pt"), 150);
        var c = await new Comparer(new BlobLocator(null)).CompareAsync(a, b);
        Assert.Equal("Shirt", c.Classes[0].Name);
        Assert.Contains("The largest change is in Shirt", c.Findings[1]);
    }

    [Fact]
    public async Task Job_ComparesWithItsHistorysPreviousRun_AndFlagsDrift()
    {
        var (folder, images, labels) = await CompareRuns.DataAsync(Samples);
        string Job(string model) => TestPaths.FashionJob(images, labels, "runs/{id}", shardSize: 100, model: model,
            extra: """, "history": "runs", "compare": { "baseline": "previous", "fail": { "accuracyDrop": 0.01 } }""");
        var first = await Jobs.RunAsync(one.Grains, Job(TestPaths.Sample("model.pt")), folder);
        Assert.Equal(JobState.Completed, first.State);
        Assert.False(Directory.Exists(Path.Combine(first.Output, ComparisonOutput.JobFolder)), "the first run had nothing to compare with");
        Assert.DoesNotContain("Changes since the previous model", File.ReadAllText(Path.Combine(first.Output, OutputLayout.Report)));

        var second = await Jobs.RunAsync(one.Grains, Job(TestPaths.Sample("model.pt")), folder);
        Assert.Equal(JobState.Completed, second.State);
        Assert.Null(second.Drift);
        var compared = JsonSerializer.Deserialize<Comparison>(File.ReadAllText(Path.Combine(second.Output, "compare", ComparisonOutput.Json)), Manifest.Json)!;
        Assert.Equal(first.Output, compared.Baseline.Output);
        Assert.Equal(0, compared.Predictions.Accuracy.Value);

        var third = await Jobs.RunAsync(one.Grains, Job(TestPaths.Fixture("compare/shirt_permuted.pt")), folder);
        Assert.Equal(JobState.Completed, third.State);
        var drift = Assert.Single(third.Drift!);
        Assert.StartsWith("accuracyDrop: accuracy fell by ", drift);
        // The new run's report says what changed, and that the gate was crossed.
        var report = File.ReadAllText(Path.Combine(third.Output, OutputLayout.Report));
        Assert.Contains("Changes since the previous model", report);
        Assert.Contains("Drift gate: crossed", report);
        Assert.Contains("The largest change is in Shirt", report);
        Assert.True(File.Exists(Path.Combine(third.Output, "compare", "changed-saliency.png")), "the job's own comparison draws its most-changed samples");
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(third.Output, OutputLayout.Manifest))).RootElement;
        Assert.Equal(drift, manifest.GetProperty("drift")[0].GetString());
        var rows = await new RunCatalogue(new LocalBlob(Path.Combine(folder, "runs"))).ReadAsync();
        Assert.Equal([null, null, drift], rows.Select(r => r.Drift?.Single()));
    }

    /// <summary>
    /// Runs on different inputs (here 300 and 200 images) are compared at the dataset level only: each side's accuracy over
    /// its own samples, as its summary has it, nothing paired, no maps compared, and the findings say so.
    /// </summary>
    [Fact]
    public async Task Compare_DifferentInputs_EachSidesOwnAccuracy_NothingPaired()
    {
        var a = await CompareRuns.RunAsync(one.Grains, await CompareRuns.DataAsync(Samples), "a", TestPaths.Sample("model.pt"), 100);
        var b = await CompareRuns.RunAsync(one.Grains, await CompareRuns.DataAsync(200), "b", TestPaths.Fixture("compare/seed1.pt"), 70);
        var c = await new Comparer(new BlobLocator(null)).CompareAsync(a, b);
        Assert.False(c.SameInputs);
        static double Accuracy(string output) =>
            JsonDocument.Parse(File.ReadAllText(Path.Combine(output, OutputLayout.Summary))).RootElement.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble();
        Assert.Equal((Accuracy(a), (long)Samples), (c.Predictions.AccuracyA.Value, c.Predictions.AccuracyA.N));
        Assert.Equal((Accuracy(b), 200L), (c.Predictions.AccuracyB.Value, c.Predictions.AccuracyB.N));
        Assert.Equal(c.Predictions.AccuracyB.Value - c.Predictions.AccuracyA.Value, c.Predictions.Accuracy.Value, 12);
        Assert.Null(c.Predictions.Flips);
        Assert.Null(c.Predictions.McNemarP);
        Assert.Empty(c.Methods);
        Assert.Equal(Samples, c.Classes.Sum(k => k.Support));
        Assert.StartsWith("The two runs explained different inputs", c.Findings[0]);
    }

    /// <summary>
    /// A job's own comparison is a pass on the cluster over fixed ranges of samples (here two: 4096 and 404), made on the
    /// silo's model host (so it has the representation's CKA): it equals explain compare's of the same two runs bit for bit,
    /// and a candidate run sharded otherwise compares the same.
    /// </summary>
    [Fact]
    public async Task JobCompare_IsAPassOverRanges_EqualsExplainCompare_HoweverTheCandidateWasSharded()
    {
        const int many = ComparePart.Range + 404;
        var data = await CompareRuns.DataAsync(many);
        const string saliency = """{ "saliency": {} }""";
        var a = await CompareRuns.RunAsync(one.Grains, data, "a", TestPaths.Sample("model.pt"), 1500, methods: saliency);
        var compare = $$""", "compare": { "baseline": "{{a}}" }""";
        var b = await CompareRuns.RunAsync(one.Grains, data, "b", TestPaths.Fixture("compare/seed1.pt"), 1000, compare, saliency);
        var other = await CompareRuns.RunAsync(one.Grains, data, "b-other", TestPaths.Fixture("compare/seed1.pt"), many, compare, saliency);

        var job = JsonSerializer.Deserialize<Comparison>(File.ReadAllText(Path.Combine(b, "compare", ComparisonOutput.Json)), Manifest.Json)!;
        Assert.NotNull(job.Representation?.LinearCka); // computed by the pass on a model-host silo
        Assert.Equal(many, job.Representation!.Samples);
        Assert.Equal(many, Assert.Single(job.Methods).Samples);
        using var host = new ModelHost(new ModelHostOptions { WorkerThreads = 1 }, new BlobLocator(null));
        var cli = await new Comparer(new BlobLocator(null), host).CompareAsync(a, b);
        Assert.Equal(Json(cli), Json(job));
        var otherJob = JsonSerializer.Deserialize<Comparison>(File.ReadAllText(Path.Combine(other, "compare", ComparisonOutput.Json)), Manifest.Json)!;
        Assert.Equal(Json(job with { Candidate = otherJob.Candidate }), Json(otherJob));
    }

    private static async Task<int[]> PredictionsAsync(string output) =>
        [.. (await Task.WhenAll(Directory.GetFiles(Path.Combine(output, "samples")).Order().Select(ParquetRows.ReadAsync))).SelectMany(r => r.Prediction)];

    private static string Json(Comparison c) => JsonSerializer.Serialize(c, Manifest.Json);
}
