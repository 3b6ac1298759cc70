using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Tests.Engine;

/// <summary>Faithfulness sums: a shard's partial, merged by SummaryBuilder in shard order, and carried by the partial codec.</summary>
public class FaithfulnessStatisticsTests
{
    /// <summary>A shard of samples with the given targets (3 classes), one ordering "m" with curves of 3 points: sample i's deletion curve is d[i].</summary>
    private static ShardPartial Shard(int index, long[] targets, double[][] deletion, double[] deletionAuc)
    {
        var insertion = deletion.Select(c => c.Select(v => 1 - v).ToArray()).ToArray();
        var result = new FaithfulnessResult(2, [new OrderingResult("m", [.. deletion.SelectMany(c => c)], [.. insertion.SelectMany(c => c)],
            deletionAuc, [.. deletionAuc.Select(a => 1 - a)])]);
        var counts = new long[3];
        foreach (var t in targets) counts[t]++;
        var inputRows = ShardPartial.ClassRows(counts).Select(_ => 1.0).ToArray();
        return new ShardPartial(index, targets.Length, "silo", 0, counts,
            [MethodsFeature.Instance.Pack([]), InputsFeature.Instance.Pack(new InputPartial([1], counts, inputRows)),
             FaithfulnessFeature.Instance.Pack(FaithfulnessStatistics.Partial(result, targets, 3))], 1);
    }

    private static readonly ShardPartial A = Shard(0, [0, 2], [[0.9, 0.5, 0.1], [0.8, 0.4, 0.2]], [0.5, 0.45]);
    private static readonly ShardPartial B = Shard(1, [2, 2, 0], [[0.7, 0.7, 0.1], [0.6, 0.2, 0.2], [1.0, 0.1, 0.1]], [0.55, 0.3, 0.325]);

    [Fact]
    public void Build_TwoShards_GivesTheHandMeans()
    {
        var f = SummaryBuilder.Build([B, A], ["a", "b", "c"]).Summary.Faithfulness!;
        Assert.Equal(2, f.Steps);
        var m = Assert.Single(f.Methods).Value;
        // Five samples: AUCs 0.5, 0.45 | 0.55, 0.3, 0.325.
        Assert.Equal((0.5 + 0.45 + 0.55 + 0.3 + 0.325) / 5, m.DeletionAuc, 12);
        Assert.Equal(1 - (0.5 + 0.45 + 0.55 + 0.3 + 0.325) / 5, m.InsertionAuc, 12);
        double[] curve = [(0.9 + 0.8 + 0.7 + 0.6 + 1.0) / 5, (0.5 + 0.4 + 0.7 + 0.2 + 0.1) / 5, (0.1 + 0.2 + 0.1 + 0.2 + 0.1) / 5];
        for (var k = 0; k < 3; k++)
        {
            Assert.Equal(curve[k], m.DeletionCurve[k], 12);
            Assert.Equal(1 - curve[k], m.InsertionCurve[k], 12);
        }
        // Class 0: samples 0 (0.5) and 4 (0.325); class 1 has none, so no row; class 2: 0.45, 0.55, 0.3.
        Assert.Equal([(0, "a", 2L), (2, "c", 3L)], m.PerClass.Select(c => (c.Class, c.Name, c.Count)));
        Assert.Equal((0.5 + 0.325) / 2, m.PerClass[0].DeletionAuc, 12);
        Assert.Equal((0.45 + 0.55 + 0.3) / 3, m.PerClass[1].DeletionAuc, 12);
        Assert.Equal(1 - (0.45 + 0.55 + 0.3) / 3, m.PerClass[1].InsertionAuc, 12);
        // The mean AUC's 95 % interval from Σx and Σx²: sample sd 0.108972, half-width 1.959964 · 0.108972 / √5 = 0.095517.
        Assert.Equal(5, m.Deletion.N);
        Assert.Equal(0.425 - 0.09551682940272122, m.Deletion.Low!.Value, 10);
        Assert.Equal(0.425 + 0.09551682940272122, m.Deletion.High!.Value, 10);
        Assert.Equal(5, m.Samples);
    }

    [Fact]
    public void Build_SamplesOutsideAMethodsSubset_AreLeftOutOfItsSums()
    {
        // The middle sample was not explained by the method (NaN, as the recorder leaves it): four samples count.
        var shard = Shard(0, [0, 2, 2, 0, 2], [[0.9, 0.5, 0.1], [double.NaN, double.NaN, double.NaN], [0.7, 0.7, 0.1], [0.6, 0.2, 0.2], [1.0, 0.1, 0.1]],
            [0.5, double.NaN, 0.55, 0.3, 0.325]);
        var f = SummaryBuilder.Build([shard], null).Summary.Faithfulness!;
        var m = f.Methods["m"];
        Assert.Equal(4, m.Samples);
        Assert.Equal(5, f.Samples);
        Assert.Equal((0.5 + 0.55 + 0.3 + 0.325) / 4, m.DeletionAuc, 12);
        Assert.Equal((0.9 + 0.7 + 0.6 + 1.0) / 4, m.DeletionCurve[0], 12);
        Assert.Equal([2L, 2L], m.PerClass.Select(c => c.Count));
    }

    [Fact]
    public void Build_PartialsInAnyOrder_GiveIdenticalFaithfulness()
    {
        var c = Shard(2, [1], [[0.3, 0.2, 0.1]], [0.2]);
        string Json(params ShardPartial[] parts) => JsonSerializer.Serialize(SummaryBuilder.Build(parts, null).Summary.Faithfulness, Manifest.Json);
        Assert.Equal(Json(A, B, c), Json(c, B, A));
        Assert.Contains("\"perClass\"", Json(A, B, c));
    }

    [Fact]
    public void Codec_PartialWithFaithfulness_RoundTripsBitForBit()
    {
        var faithfulness = FaithfulnessFeature.Instance;
        var decoded = faithfulness.In(PartialCodec.Decode(new MemoryStream(PartialCodec.Encode(B).ToArray()), "test"))!;
        var original = faithfulness.In(B)!;
        Assert.Equal(original.Steps, decoded.Steps);
        Assert.Equal(original.ClassCounts, decoded.ClassCounts);
        var (o, d) = (Assert.Single(original.Methods), Assert.Single(decoded.Methods));
        Assert.Equal(o.Method, d.Method);
        Assert.Equal(o.Deletion, d.Deletion);
        Assert.Equal(o.Insertion, d.Insertion);
        Assert.Equal(o.ClassAuc, d.ClassAuc);
        Assert.Equal(o.Counts, d.Counts);
        Assert.Equal(o.ClassSquares, d.ClassSquares);
        var without = B with { Features = [.. B.Features.Where(f => f.Feature != faithfulness.Name)] };
        Assert.Null(faithfulness.In(PartialCodec.Decode(new MemoryStream(PartialCodec.Encode(without).ToArray()), "test")));
        Assert.Null(faithfulness.In(B.Reference()));
    }
}
