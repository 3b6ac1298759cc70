using System.Text.Json;
using ExplainCluster.Contracts;
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
        Assert.Equal(VerdictsFeature.Instance.In(partial)!.Methods, VerdictsFeature.Instance.In(decoded)!.Methods);
    }
}
