using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Tests.Engine;

public class SummaryBuilderTests
{
    /// <param name="map">Σ map per class, two values per class, dense; the partial keeps the rows of classes with samples.</param>
    private static ShardPartial Partial(int shard, long start, long[] labels, int[] predictions, float[] confidence, double[] map, int classes = 2)
    {
        var errors = ErrorStatistics.Partial(shard, i => start + i, labels, predictions, confidence, [.. confidence.Select(c => (float)-Math.Log(c))], classes);
        var counts = new long[classes];
        foreach (var p in predictions) counts[p]++;
        double[] Rows(double[] dense) => [.. ShardPartial.ClassRows(counts).SelectMany(c => dense.Skip(2 * c).Take(2))];
        var absSum = new double[2];
        for (var c = 0; c < classes; c++)
            for (var j = 0; j < 2; j++) absSum[j] += Math.Abs(map[2 * c + j]);
        var method = new MethodPartial("saliency", [2], counts, Rows(map), absSum);
        double[] input = [.. Enumerable.Range(1, 2 * classes).Select(v => (double)v)];
        return new ShardPartial(shard, labels.Length, "silo", 0, counts,
            [ErrorsFeature.Instance.Pack(errors), MethodsFeature.Instance.Pack([method]), InputsFeature.Instance.Pack(new InputPartial([2], counts, Rows(input)))], 1);
    }

    private static T[] Values<T>(SummaryOutput output, string? path) => (T[])output.Arrays.Single(a => a.Path == path).Values;

    [Fact]
    public void Build_HandExample_GivesAccuracyConfusionAndEce()
    {
        // confidences 0.95, 0.65 | 0.7, 0.9 fall in bins 14, 9, 10, 13 (one sample each);
        // ECE = (|1−0.95| + |1−0.65| + |0−0.7| + |1−0.9|) / 4 = 0.3.
        var summary = SummaryBuilder.Build(
            [Partial(0, 0, [0, 1], [0, 1], [0.95f, 0.65f], [1, 2, 3, 4]), Partial(1, 2, [1, 0], [0, 0], [0.7f, 0.9f], [5, 6, 0, 0])],
            ["a", "b"]);
        var e = summary.Summary.ErrorAnalysis!;
        Assert.Equal(0.75, e.Accuracy);
        // 3 of 4 correct: Wilson's 95 % interval by hand (IntervalsTests), n the labelled samples.
        Assert.Equal(0.300641842582402, e.AccuracyInterval.Low!.Value, 8);
        Assert.Equal(0.9544127391902995, e.AccuracyInterval.High!.Value, 8);
        Assert.Equal(4, e.AccuracyInterval.N);
        // Class 0: precision 2 of its 3 predictions, recall 2 of its 2 labels; class 1's recall 1 of 2.
        var (precision, recall) = (e.PerClass[0].PrecisionInterval, e.PerClass[1].RecallInterval);
        Assert.Equal(0.20765960080204782, precision.Low!.Value, 8);
        Assert.Equal(0.9385080552796038, precision.High!.Value, 8);
        Assert.Equal(3, precision.N);
        Assert.Equal(0.09453120573423074, recall.Low!.Value, 8);
        Assert.Equal(0.9054687942657693, recall.High!.Value, 8);
        Assert.Equal(2, recall.N);
        Assert.All(e.Reliability.Where(b => b.Count == 1), b => Assert.Equal(1, b.AccuracyInterval.N));
        Assert.Equal("summary/confusion.npy", e.Confusion);
        Assert.Equal([2L, 0L, 1L, 1L], Values<long>(summary, e.Confusion));
        Assert.Equal(0.3, e.ExpectedCalibrationError, 6);
        Assert.Equal(2.0 / 3, e.PerClass[0].Precision, 9);
        Assert.Equal(0.5, e.PerClass[1].Recall, 9);
        Assert.Equal(2.0 / 3, e.PerClass[1].F1, 9);
        Assert.Equal(1, e.HighestLoss[0].Index); // loss −ln 0.65 is the largest
        Assert.Equal(new[] { 14, 9, 10, 13 }.Order(), e.Reliability.Where(b => b.Count == 1).Select(b => b.Bin));
        Assert.Equal(new ConfusedPair(1, 0, "b", "a", 1), Assert.Single(e.MostConfused));
        // Class 0 was predicted 3 times: map sums [1,2] + [5,6] over counts [1 + 2]; class 1 once: [3,4].
        var saliency = summary.Summary.Methods["saliency"];
        Assert.Equal([new ClassRow(0, "a", 3, 0), new ClassRow(1, "b", 1, 1)], saliency.PerClass);
        Assert.Equal([6f / 3, 8f / 3, 3f, 4f], Values<float>(summary, saliency.ClassMeans));
        // Mean |map| over the 4 samples: (|1|+|3|+|5|+|0|) / 4, (|2|+|4|+|6|+|0|) / 4.
        Assert.Equal([9f / 4, 12f / 4], Values<float>(summary, saliency.MeanAbsMap));
    }

    [Fact]
    public void Build_ClassWithoutSamples_HasNoRowInTheClassMeans()
    {
        // Three classes; class 1 is never predicted, so only classes 0 and 2 have rows (and inputs).
        var summary = SummaryBuilder.Build(
            [Partial(0, 0, [0, 2], [0, 2], [0.9f, 0.8f], [1, 2, 0, 0, 3, 4], classes: 3),
             Partial(1, 2, [2, 2], [2, 0], [0.7f, 0.6f], [5, 6, 0, 0, 7, 8], classes: 3)],
            null);
        var saliency = summary.Summary.Methods["saliency"];
        Assert.Equal([new ClassRow(0, "0", 2, 0), new ClassRow(2, "2", 2, 1)], saliency.PerClass);
        var means = summary.Arrays.Single(a => a.Path == saliency.ClassMeans);
        Assert.Equal([2L, 2L], means.Shape);
        Assert.Equal([3f, 4f, 5f, 6f], (float[])means.Values);
        // Input class means: the helper's input sums are 1..6 per class, so class 0 → [1,2]·2/2, class 2 → [5,6]·2/2.
        Assert.Equal([1f, 2f, 5f, 6f], Values<float>(summary, summary.Summary.Inputs.ClassMeans));
    }

    [Fact]
    public void Build_PartialsInAnyOrder_GiveIdenticalSummary()
    {
        var a = Partial(0, 0, [0, 1], [0, 1], [0.95f, 0.65f], [0.1, 0.2, 0.3, 0.4]);
        var b = Partial(1, 2, [1, 0], [0, 0], [0.7f, 0.9f], [1e-17, 7, 0.3, 1e16]);
        var c = Partial(2, 4, [0, 0], [1, 0], [0.55f, 0.51f], [3, 1e-9, 2, 5]);
        string Json(params ShardPartial[] parts) => JsonSerializer.Serialize(SummaryBuilder.Build(parts, null), Manifest.Json);
        Assert.Equal(Json(a, b, c), Json(c, a, b));
        Assert.Equal(Json(a, b, c), Json(b, c, a));
    }

    [Fact]
    public void Add_InShardOrder_HoldsNoPartial_OutOfOrder_HoldsOnlyThoseAhead()
    {
        var parts = Enumerable.Range(0, 5).Select(i => Partial(i, 2 * i, [0, 1], [0, 1], [0.9f, 0.6f], [i, 1, 2, 3])).ToArray();
        var inOrder = new SummaryBuilder();
        foreach (var p in parts)
        {
            inOrder.Add(p);
            Assert.Equal((p.ShardIndex + 1, 0), (inOrder.Folded, inOrder.Waiting));
        }
        var late = new SummaryBuilder();
        foreach (var i in new[] { 1, 2, 4 }) late.Add(parts[i]);
        Assert.Equal((0, 3), (late.Folded, late.Waiting));
        Assert.Equal("shard 0 is missing", Assert.Throws<InvalidOperationException>(() => late.Build(null)).Message);
        late.Add(parts[0]);
        Assert.Equal((3, 1), (late.Folded, late.Waiting));
        late.Add(parts[3]);
        Assert.Equal((5, 0), (late.Folded, late.Waiting));
        Assert.Throws<ArgumentException>(() => late.Add(parts[2]));
        Assert.Equal(JsonSerializer.Serialize(inOrder.Build(null), Manifest.Json), JsonSerializer.Serialize(late.Build(null), Manifest.Json));
    }
}
