using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Verdicts;

namespace ExplainCluster.Tests.Engine;

/// <summary>The verdicts feature: paired differences from random, their intervals, the verdict, and the sanity result beside it.</summary>
public class VerdictsTests
{
    /// <summary>A shard's partial with per-sample deletion and insertion AUCs per ordering (random among them).</summary>
    private static ShardPartial Shard(int index, Dictionary<string, (double[] Deletion, double[] Insertion)> aucs, SanityPartial? sanity = null)
    {
        var n = aucs.First().Value.Deletion.Length;
        var faithfulness = new FaithfulnessResult(1, [.. aucs.Select(a => new OrderingResult(a.Key, new double[2 * n], new double[2 * n], a.Value.Deletion, a.Value.Insertion))]);
        var result = new ShardResult(0, n, 1, null, new long[n], new float[n], new int[n], new float[n], null, [], 0, faithfulness);
        var outcome = new ShardOutcome(new ShardSpec(index, 0, n), result, new ShardData(0, n, [], null, [1]), 1, [], [n]);
        FeaturePartial[] features = [VerdictsFeature.Instance.Pack(VerdictsFeature.Instance.Compute(outcome)!), .. sanity is null ? [] : new[] { SanityFeature.Instance.Pack(sanity) }];
        return new ShardPartial(index, n, "silo", 0, [n], features, 1);
    }

    private static SanityPartial Sanity(string method, double lastSpearman) =>
        new(["fc"], 1, [new SanitySums(method, [lastSpearman], [lastSpearman])], null);

    [Fact]
    public void Summarise_HandExample_GivesTheIntervalsAndVerdicts()
    {
        var a = Shard(0, new()
        {
            ["random"] = ([0.5, 0.5], [0.5, 0.5]),
            ["good"] = ([0.2, 0.3], [0.8, 0.7]),
            ["bad"] = ([0.7, 0.8], [0.3, 0.2]),
            ["noise"] = ([0.6, 0.4], [0.55, 0.45]),
        }, Sanity("good", 0.2));
        var b = Shard(1, new()
        {
            ["random"] = ([0.4], [0.6]),
            ["good"] = ([0.1], [0.9]),
            ["bad"] = ([0.65], [0.35]),
            ["noise"] = ([0.45], [0.55]),
        }, Sanity("good", 0.2));
        var verdicts = SummaryBuilder.Build([a, b], null).Summary.Verdicts!;

        // good: deletion − random = −0.3, −0.2, −0.3: mean −0.26667, sample sd 0.057735, half-width 1.96 · 0.057735 / √3 = 0.065333.
        var good = verdicts.Methods["good"];
        Assert.Equal(VerdictsFeature.Faithful, good.Faithfulness);
        Assert.Equal(3, good.Deletion.Count);
        Assert.Equal(-0.8 / 3, good.Deletion.Mean!.Value, 12);
        Assert.Equal(-0.8 / 3 - 0.0653320, good.Deletion.Low!.Value, 6);
        Assert.Equal(-0.8 / 3 + 0.0653320, good.Deletion.High!.Value, 6);
        Assert.Equal(0.8 / 3, good.Insertion.Mean!.Value, 12);
        Assert.Equal(VerdictsFeature.SanityPassed, good.Sanity); // Spearman 0.2 after the cascade: the maps changed

        Assert.Equal(VerdictsFeature.NotFaithful, verdicts.Methods["bad"].Faithfulness); // deletion +0.2, +0.3, +0.25
        Assert.Null(verdicts.Methods["bad"].Sanity); // the check did not run on it
        // noise: deletion +0.1, −0.1, +0.05 and insertion +0.05, −0.05, −0.05: both intervals hold zero.
        Assert.Equal(VerdictsFeature.Inconclusive, verdicts.Methods["noise"].Faithfulness);
        Assert.False(verdicts.Methods.ContainsKey("random"));
    }

    [Fact]
    public void Summarise_MapsThatDidNotChangeUnderTheCascade_FailTheSanityCheck()
    {
        var a = Shard(0, new() { ["random"] = ([0.5], [0.5]), ["m"] = ([0.2], [0.8]) }, Sanity("m", 0.99));
        var verdict = SummaryBuilder.Build([a], null).Summary.Verdicts!.Methods["m"];
        Assert.Equal(VerdictsFeature.SanityFailed, verdict.Sanity);
        Assert.Equal(VerdictsFeature.Inconclusive, verdict.Faithfulness); // one sample: no interval, no verdict either way
        Assert.Null(verdict.Deletion.Low);
    }

    [Fact]
    public void Build_OneShardOrTwo_GiveTheSameVerdictsBitForBit_AndThePartialRoundTrips()
    {
        Dictionary<string, (double[], double[])> all = new() { ["random"] = ([0.5, 0.45, 0.52], [0.5, 0.55, 0.48]), ["m"] = ([0.21, 0.33, 0.17], [0.71, 0.69, 0.93]) };
        Dictionary<string, (double[], double[])> first = new() { ["random"] = ([0.5, 0.45], [0.5, 0.55]), ["m"] = ([0.21, 0.33], [0.71, 0.69]) };
        Dictionary<string, (double[], double[])> second = new() { ["random"] = ([0.52], [0.48]), ["m"] = ([0.17], [0.93]) };
        string Json(params ShardPartial[] parts) => JsonSerializer.Serialize(SummaryBuilder.Build(parts, null).Summary.Verdicts, Manifest.Json);
        // One shard or two: the same samples, the same means (to rounding); two shards in either order: the same bits.
        var (one, two) = (SummaryBuilder.Build([Shard(0, all)], null).Summary.Verdicts!, SummaryBuilder.Build([Shard(0, first), Shard(1, second)], null).Summary.Verdicts!);
        Assert.Equal(one.Methods["m"].Deletion.Mean!.Value, two.Methods["m"].Deletion.Mean!.Value, 15);
        Assert.Equal(Json(Shard(0, first), Shard(1, second)), Json(Shard(1, second), Shard(0, first)));

        var partial = Shard(0, all);
        var decoded = PartialCodec.Decode(new MemoryStream(PartialCodec.Encode(partial).ToArray()), "test");
        Assert.Equal(VerdictsFeature.Instance.Encode(VerdictsFeature.Instance.In(partial)!), VerdictsFeature.Instance.Encode(VerdictsFeature.Instance.In(decoded)!));
    }

    /// <summary>
    /// Per-sample AUCs built to be what a method should be judged: faithful (deletion 0.1 below random and insertion 0.1
    /// above, with noise), random (another random ordering: the differences are noise around zero), anti-faithful (the
    /// reverse of faithful). 200 samples, seeded.
    /// </summary>
    private static Dictionary<string, (double[] Deletion, double[] Insertion)> Constructed(int n = 200)
    {
        var random = new Random(16);
        double Noise() => 0.05 * (random.NextDouble() - 0.5);
        double[] Base() => [.. Enumerable.Range(0, n).Select(_ => 0.3 + 0.4 * random.NextDouble())];
        var (deletion, insertion) = (Base(), Base());
        double[] Shift(double[] values, double by) => [.. values.Select(v => v + by + Noise())];
        return new()
        {
            ["random"] = (deletion, insertion),
            ["faithful"] = (Shift(deletion, -0.1), Shift(insertion, 0.1)),
            ["another-random"] = (Shift(deletion, 0), Shift(insertion, 0)),
            ["anti-faithful"] = (Shift(deletion, 0.1), Shift(insertion, -0.1)),
        };
    }

    [Fact]
    public void Summarise_ConstructedMethods_AreJudgedAsBuilt()
    {
        var verdicts = SummaryBuilder.Build([Shard(0, Constructed())], null).Summary.Verdicts!;
        Assert.Equal(VerdictsFeature.Faithful, verdicts.Methods["faithful"].Faithfulness);
        Assert.Equal(VerdictsFeature.Inconclusive, verdicts.Methods["another-random"].Faithfulness);
        Assert.Equal(VerdictsFeature.NotFaithful, verdicts.Methods["anti-faithful"].Faithfulness);
        Assert.Equal(0.95, verdicts.Confidence);
        Assert.All(verdicts.Methods.Values, v => Assert.False(v.Reweighted)); // every sample: the dataset's own mean
    }

    [Fact]
    public void Summarise_JobsThresholds_DecideTheVerdicts()
    {
        // A required difference of 0.2 AUC is more than the faithful method's 0.1: inconclusive. A sanity check that
        // allows a correlation of 0.1 at most fails the method whose maps kept 0.2.
        var builder = new SummaryBuilder();
        builder.Settings.Use(new VerdictsSpec(0.99, MinDifference: 0.2, SanityMaxSimilarity: 0.1));
        builder.Add(Shard(0, Constructed(), Sanity("faithful", 0.2)));
        var verdicts = builder.Build(null).Summary.Verdicts!;
        Assert.Equal(VerdictsFeature.Inconclusive, verdicts.Methods["faithful"].Faithfulness);
        Assert.Equal(VerdictsFeature.SanityFailed, verdicts.Methods["faithful"].Sanity);
        Assert.Equal(VerdictsFeature.NotFaithful, verdicts.Methods["anti-faithful"].Faithfulness); // worse than random needs no margin
        Assert.Equal((0.99, 0.2, 0.1), (verdicts.Confidence, verdicts.MinDifference, verdicts.SanityMaxSimilarity));
        // The wider 99 % interval of the same sums: z 2.5758 against 1.9600.
        var at95 = SummaryBuilder.Build([Shard(0, Constructed())], null).Summary.Verdicts!.Methods["faithful"].Deletion;
        var at99 = verdicts.Methods["faithful"].Deletion;
        Assert.Equal((at95.High!.Value - at95.Mean!.Value) * 2.5758293035489 / 1.959963984540054, at99.High!.Value - at99.Mean!.Value, 10);
    }

    [Fact]
    public void Summarise_MethodOnAStratifiedSubset_IsReweightedToTheDatasetsStrata()
    {
        // Eight samples of one class: six correct (stratum 1), two wrong (stratum 0). The method explained two of each
        // (NaN elsewhere): deletion − random is −0.2, −0.4 on the correct ones and +0.2, 0 on the errors. The subset's plain
        // mean is −0.1; reweighted to the dataset (6/8 correct, 2/8 wrong): 0.75 · −0.3 + 0.25 · 0.1 = −0.2.
        var nan = double.NaN;
        long[] labels = [0, 0, 0, 0, 0, 0, 0, 0];
        int[] predictions = [0, 0, 0, 0, 0, 0, 1, 1];
        double[] random = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5];
        double[] method = [0.3, 0.1, nan, nan, nan, nan, 0.7, 0.5];
        var faithfulness = new FaithfulnessResult(1, [new OrderingResult("lime", new double[16], new double[16], method, method), new OrderingResult("random", new double[16], new double[16], random, random)]);
        var result = new ShardResult(0, 8, 2, labels, new long[8], new float[16], predictions, new float[8], new float[8], [], 0, faithfulness);
        var outcome = new ShardOutcome(new ShardSpec(0, 0, 8), result, new ShardData(0, 8, [], labels, [1]), 1, [], [8, 0]);
        var partial = new ShardPartial(0, 8, "silo", 0, [6, 2], [VerdictsFeature.Instance.Pack(VerdictsFeature.Instance.Compute(outcome)!)], 1);

        var lime = SummaryBuilder.Build([partial], null).Summary.Verdicts!.Methods["lime"];
        Assert.True(lime.Reweighted);
        Assert.Equal(4, lime.Deletion.Count);
        Assert.Equal(-0.2, lime.Deletion.Mean!.Value, 12);
        // Stratified variance: 0.75² · s²(−0.2, −0.4) / 2 + 0.25² · s²(0.2, 0) / 2, each s² = 0.02.
        var half = 1.959963984540054 * Math.Sqrt(0.5625 * 0.01 + 0.0625 * 0.01);
        Assert.Equal(-0.2 - half, lime.Deletion.Low!.Value, 10);
        Assert.Equal(-0.2 + half, lime.Deletion.High!.Value, 10);
    }

    [Theory]
    [InlineData("""{"confidence": 1}""", "verdicts.confidence: expected a number from 0.5 to 0.9999")]
    [InlineData("""{"minDifference": -0.1}""", "verdicts.minDifference: expected an AUC difference from 0 to 1")]
    [InlineData("""{"sanityThreshold": 0.5}""", "verdicts.sanityThreshold: unknown field")]
    public void Options_Bad_AreOneLineErrorsNamingTheField(string json, string message) =>
        Assert.Equal(message, Assert.Throws<ExplainException>(() => VerdictsOptions.Read(json)).Message);

    [Fact]
    public void JobFile_Verdicts_AreReadIntoTheJobSpec()
    {
        static string Job(string verdicts) => ExplainCluster.Tests.Infrastructure.TestPaths.FashionJob("images.npy", null, "out", extra: verdicts);
        Assert.Null(JobFile.Parse(Job(""), "/data").Verdicts);
        Assert.Equal(new VerdictsSpec(0.9, 0.01, 0.3),
            JobFile.Parse(Job(""", "verdicts": { "confidence": 0.9, "minDifference": 0.01, "sanityMaxSimilarity": 0.3 }"""), "/data").Verdicts);
        Assert.Equal("verdicts: expected an object", Assert.Throws<ExplainException>(() => JobFile.Parse(Job(""", "verdicts": 0.95"""), "/data")).Message);
    }
}
