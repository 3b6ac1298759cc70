using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class FaithfulnessTests
{
    private static readonly float[] X = [0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f];
    private static readonly float[] Y = [-0.2f, 0.7f, 0.3f, -0.9f, 1.5f, 0.4f, -0.6f, 0.8f, 0.05f];

    /// <summary>Scores with ties: pixels 2, 5 and 7 share the top score, 0 and 8 another.</summary>
    private static readonly float[] ScoreX = [0.5f, -1f, 2f, 0.1f, -3f, 2f, 0f, 2f, 0.5f];
    private static readonly float[] ScoreY = [1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f];

    /// <summary>The ordering by hand: highest score first, ties to the lower pixel index.</summary>
    private static int[] HandOrder(float[] score) => [.. Enumerable.Range(0, score.Length).OrderByDescending(p => score[p]).ThenBy(p => p)];

    private static double Softmax(float[] logits, int target)
    {
        var max = logits.Max();
        return Math.Exp(logits[target] - max) / logits.Sum(l => Math.Exp(l - max));
    }

    /// <summary>p_k for k = 0..steps with round(k·9/steps) pixels replaced (the steps used here divide 9), by the hand formulas of the tiny CNN.</summary>
    private static (double[] Deletion, double[] Insertion) HandCurves(float[] x, float[] score, int steps, float baseline, int target)
    {
        var order = HandOrder(score);
        var (deletion, insertion) = (new double[steps + 1], new double[steps + 1]);
        for (var k = 0; k <= steps; k++)
        {
            var replaced = order.Take(k * 9 / steps).ToHashSet();
            var deleted = x.Select((v, p) => replaced.Contains(p) ? baseline : v).ToArray();
            var inserted = x.Select((v, p) => replaced.Contains(p) ? v : baseline).ToArray();
            deletion[k] = Softmax(TinyModels.CnnLogits(deleted), target);
            insertion[k] = Softmax(TinyModels.CnnLogits(inserted), target);
        }
        return (deletion, insertion);
    }

    private static double HandAuc(double[] p) => (p.Sum() - (p[0] + p[^1]) / 2) / (p.Length - 1);

    /// <summary>
    /// The tiny CNN gives class 1 a logit at least 7.6 above class 0 (W₁ − W₀ = 1.8 everywhere), so its
    /// probability is 1 − ε; the tests explain class 0, whose probability e^(−d)/(1 + e^(−d)) varies by orders
    /// of magnitude, and compare relatively.
    /// </summary>
    private const int Target = 0;

    private static void Close(double expected, double actual, double relative = 1e-4) =>
        Assert.True(Math.Abs(expected - actual) <= relative * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");

    private static FaithfulnessResult Record(FaithfulnessSpec spec, float[][] inputs, float[][] scores, int maxRows, long firstIndex = 0)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var input = tensor(inputs.SelectMany(v => v).ToArray()).view(inputs.Length, 1, 3, 3);
        var batch = GradientBatch.Compute(model, input, full(inputs.Length, Target, int64), null, needGradients: false);
        var recorder = new FaithfulnessRecorder(spec, ["fake"], inputs.Length);
        var indices = Enumerable.Range(0, inputs.Length).Select(i => firstIndex + i).ToArray();
        recorder.Add(0, new MethodBatch(model, batch, indices, maxRows), [(0, tensor(scores.SelectMany(v => v).ToArray()).view(inputs.Length, 1, 3, 3), null)]);
        return recorder.Result();
    }

    [Theory]
    [InlineData(3, 0f, 256)]
    [InlineData(3, 0.25f, 4)] // 2 samples × 4 steps × 2 kinds = 16 rows, in forwards of 4
    [InlineData(9, -0.5f, 5)]
    public void Curves_TinyCnn_EqualHandValues(int steps, float baseline, int maxRows)
    {
        var result = Record(new FaithfulnessSpec(steps, baseline), [X, Y], [ScoreX, ScoreY], maxRows);
        var fake = result.Orderings[0];
        Assert.Equal("fake", fake.Method);
        var points = steps + 1;
        var samples = new[] { (X, ScoreX), (Y, ScoreY) };
        for (var i = 0; i < samples.Length; i++)
        {
            var (x, score) = samples[i];
            var (deletion, insertion) = HandCurves(x, score, steps, baseline, Target);
            for (var k = 0; k < points; k++)
            {
                Close(deletion[k], fake.Deletion[i * points + k]);
                Close(insertion[k], fake.Insertion[i * points + k]);
            }
            Close(HandAuc(deletion), fake.DeletionAuc[i]);
            Close(HandAuc(insertion), fake.InsertionAuc[i]);
            // Every pixel replaced: deletion ends on the baseline image and insertion on x, whatever the order.
            Close(Softmax(TinyModels.CnnLogits([.. Enumerable.Repeat(baseline, 9)]), Target), deletion[steps]);
            Close(Softmax(TinyModels.CnnLogits(x), Target), insertion[steps]);
            // The curve moves between its ends by more than the tolerance, so the comparisons above can fail.
            Assert.True(deletion.Max() > 2 * deletion.Min());
        }
        Assert.True(Math.Abs(fake.DeletionAuc[0] / fake.InsertionAuc[0] - 1) > 0.01);
        Assert.True(Math.Abs(fake.DeletionAuc[0] / fake.DeletionAuc[1] - 1) > 0.01);
    }

    [Fact]
    public void Curves_HandNumbers_AreWhatTheTestExpects()
    {
        // One AUC written out, so a slip in the helpers above cannot hide: x = X, all 9 pixels at S = 1.
        // p_0 = softmax(logits(X))[t], p_1 = softmax(logits(0))[t]; AUC = (p_0 + p_1) / 2.
        // logits(X) = (−6.2, 9.68) and logits(0) = (−0.65, 6.95), so p_0 = 1/(1 + e^15.88), p_1 = 1/(1 + e^7.6).
        var p0 = 1 / (1 + Math.Exp(15.88));
        var p1 = 1 / (1 + Math.Exp(7.6));
        var fake = Record(new FaithfulnessSpec(1), [X], [ScoreX], 256).Orderings[0];
        Close(p0, fake.Deletion[0]);
        Close(p1, fake.Deletion[1]);
        Close((p0 + p1) / 2, fake.DeletionAuc[0]);
        Close((p1 + p0) / 2, fake.InsertionAuc[0]);
        Close(2.5e-4, fake.DeletionAuc[0], 0.01);
    }

    [Fact]
    public void Counts_HalfSteps_RoundToEven()
    {
        Assert.Equal([0L, 3, 6, 9], PixelCurves.Counts(9, 3));
        // 9/2 = 4.5 → 4; 9/6 = 1.5 → 2, 27/6 = 4.5 → 4, 45/6 = 7.5 → 8 (as numpy.round and Python's round).
        Assert.Equal([0L, 4, 9], PixelCurves.Counts(9, 2));
        Assert.Equal([0L, 2, 3, 4, 6, 8, 9], PixelCurves.Counts(9, 6));
        // 10 pixels in 20 steps: k/2, so every odd step is a half: 0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4, …
        Assert.Equal([0L, 0, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 6, 7, 8, 8, 8, 9, 10, 10], PixelCurves.Counts(10, 20));
    }

    [Fact]
    public void Curves_HalfStep_ReplacesTheRoundedToEvenCount()
    {
        // S = 2 on 9 pixels: step 1 replaces round(4.5) = 4 pixels, not 5.
        // (Baseline −1: the fifth pixel, 0.1, gives relu(x) + relu(0.5 − x) = 0.5 and would not show at baseline 0.)
        var fake = Record(new FaithfulnessSpec(2, Baseline: -1), [X], [ScoreX], 256).Orderings[0];
        var order = HandOrder(ScoreX);
        var four = X.Select((v, p) => order.Take(4).Contains(p) ? -1f : v).ToArray();
        var five = X.Select((v, p) => order.Take(5).Contains(p) ? -1f : v).ToArray();
        Close(Softmax(TinyModels.CnnLogits(four), Target), fake.Deletion[1]);
        Assert.True(Math.Abs(Softmax(TinyModels.CnnLogits(five), Target) / fake.Deletion[1] - 1) > 0.01);
    }

    [Fact]
    public void Order_Ties_GoToTheLowerPixelIndex()
    {
        using var scope = NewDisposeScope();
        Assert.Equal(HandOrder(ScoreX).Select(p => (long)p), PixelCurves.Order(tensor(ScoreX).view(1, 3, 3)).data<long>().ToArray());
        // Long runs of ties, where an unstable sort would reorder them.
        var scores = new float[4096];
        for (var p = 0; p < scores.Length; p++) scores[p] = p % 7 == 0 ? 1 : p % 3 == 0 ? -1 : 0;
        Assert.Equal(HandOrder(scores).Select(p => (long)p), PixelCurves.Order(tensor(scores).view(1, 64, 64)).data<long>().ToArray());
    }

    [Fact]
    public void Scores_InputShapedMaps_AreSummedOverChannels()
    {
        using var scope = NewDisposeScope();
        var maps = tensor(new float[] { 1, 2, 3, 4, 10, 20, 30, 40 }).view(1, 2, 2, 2);
        Assert.Equal([11f, 22, 33, 44], PixelScores.For(maps, zeros(1, 2, 2, 2)).data<float>().ToArray());
        Assert.Equal([1L, 2, 2], PixelScores.For(maps, zeros(1, 2, 2, 2)).shape);
    }

    [Fact]
    public void Scores_GradCamMap_IsUpsampledBilinearlyToTheInput()
    {
        using var scope = NewDisposeScope();
        Assert.Equal([3L, 28, 28], PixelScores.For(rand(3, 7, 7), zeros(3, 1, 28, 28)).shape);
        Assert.Equal([3L, 28, 28], PixelScores.For(rand(3, 7, 7), zeros(3, 28, 28)).shape);
        // 2×2 → 4×4, align_corners false: output column j samples source x = (j + 0.5)/2 − 0.5, clamped at the edges.
        var a = new float[] { 1, 5, 3, 9 };
        var up = PixelScores.For(tensor(a).view(1, 2, 2), zeros(1, 1, 4, 4)).data<float>().ToArray();
        Assert.Equal(1f, up[0], 5);                     // (−0.25, −0.25) → a00
        Assert.Equal(0.75f * 1 + 0.25f * 5, up[1], 5);   // x = 0.25
        Assert.Equal(0.25f * 1 + 0.75f * 5, up[2], 5);   // x = 0.75
        Assert.Equal(9f, up[15], 5);
        Assert.Equal(0.75f * (0.75f * 1 + 0.25f * 5) + 0.25f * (0.75f * 3 + 0.25f * 9), up[5], 5);
    }

    [Fact]
    public void RandomOrder_DependsOnTheDatasetIndexOnly()
    {
        using var scope = NewDisposeScope();
        var batch = PixelCurves.RandomOrder([5, 6, 7], 3, 100, CPU);
        var alone = PixelCurves.RandomOrder([6], 3, 100, CPU);
        Assert.Equal(alone[0].data<long>().ToArray(), batch[1].data<long>().ToArray());
        Assert.Equal(Enumerable.Range(0, 100).Select(p => (long)p), batch[0].data<long>().ToArray().Order());
        Assert.NotEqual(batch[0].data<long>().ToArray(), batch[1].data<long>().ToArray());
        Assert.NotEqual(batch[1].data<long>().ToArray(), PixelCurves.RandomOrder([6], 4, 100, CPU)[0].data<long>().ToArray());
    }

    [Fact]
    public void Record_RandomOrdering_IsTheLastColumnPair()
    {
        var result = Record(new FaithfulnessSpec(3, Seed: 11), [X, Y], [ScoreX, ScoreY], 256, firstIndex: 40);
        Assert.Equal(["fake_deletion_auc", "fake_insertion_auc", "random_deletion_auc", "random_insertion_auc"], result.Columns.Select(c => c.Name));
        // Its curves start on x and end on the baseline as any ordering does; the same indices give the same AUCs.
        var again = Record(new FaithfulnessSpec(3, Seed: 11), [Y], [ScoreY], 256, firstIndex: 41);
        Assert.Equal(result.Orderings[1].DeletionAuc[1], again.Orderings[1].DeletionAuc[0], 6);
        Assert.Equal(result.Orderings[0].Deletion[0], result.Orderings[1].Deletion[0], 6);
    }

    [Theory]
    [InlineData("""{"steps": 0}""", "faithfulness.steps: expected an integer from 1 to 10000")]
    [InlineData("""{"baseline": "blur"}""", "faithfulness.baseline: expected \"zero\" or a number")]
    [InlineData("""{"step": 5}""", "faithfulness.step: unknown field")]
    public void Options_Bad_AreOneLineErrorsNamingTheField(string json, string message) =>
        Assert.Equal(message, Assert.Throws<ExplainException>(() => FaithfulnessOptions.Read(json)).Message);

    [Fact]
    public void JobFile_Faithfulness_IsReadStrictlyIntoTheJobSpec()
    {
        static string Job(string faithfulness) => ExplainCluster.Tests.Infrastructure.TestPaths.FashionJob("images.npy", null, "out", extra: faithfulness);
        Assert.Null(JobFile.Parse(Job(""), "/data").Faithfulness);
        Assert.Equal(new FaithfulnessSpec(4, 0.5, 0), JobFile.Parse(Job(""", "faithfulness": { "steps": 4, "baseline": 0.5 }"""), "/data").Faithfulness);
        Assert.Equal("faithfulness.seeds: unknown field",
            Assert.Throws<ExplainException>(() => JobFile.Parse(Job(""", "faithfulness": { "seeds": 1 }"""), "/data")).Message);
        Assert.Equal("faithfulness: expected an object",
            Assert.Throws<ExplainException>(() => JobFile.Parse(Job(""", "faithfulness": 20"""), "/data")).Message);
    }

    [Fact]
    public void Options_Given_AreRead()
    {
        Assert.Equal(new FaithfulnessSpec(20, 0, 0), FaithfulnessOptions.Read("{}"));
        Assert.Equal(new FaithfulnessSpec(7, -0.81, 3), FaithfulnessOptions.Read("""{"steps": 7, "baseline": -0.81, "seed": 3}"""));
        Assert.Equal(new FaithfulnessSpec(7, 0, 0), FaithfulnessOptions.Read("""{"steps": 7, "baseline": "zero"}"""));
    }
}
