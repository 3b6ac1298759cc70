using ExplainCluster.Engine.Concepts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// TCAV's parts on the fixture of tools/make_tcav_fixture.py (Flatten, Linear(16, 6) = the concept layer "1", ReLU, Linear(6, 3)):
/// directional derivatives against the weights by hand, the CAV solver against its optimality conditions, the t-test against
/// closed forms, and the counts' summary by hand.
/// </summary>
public class TcavTests
{
    private static string Fixture(string name) => TestPaths.Fixture($"tcav/{name}");

    /// <summary>Two CAVs of the layer's width, not of unit length on purpose (the derivative is linear in them).</summary>
    private static readonly double[][] Cavs = [[1, 0.5, -1, 0, 2, 0], [0, 1, 1, -1, 0, 0.5]];

    private static ConceptVectors Vectors() => new("1", ["a"], 1, 5, 6, [.. Cavs.SelectMany(v => v)], [1, 1], [new("a", 5, "ab"), new("random", 10, "cd")]);

    [Fact]
    public async Task Derivatives_TinyModel_EqualTheHandComputation()
    {
        var (w1, b1, w2) = (await NpyFiles.ReadFloatsAsync(Fixture("w1.npy")), await NpyFiles.ReadFloatsAsync(Fixture("b1.npy")),
            await NpyFiles.ReadFloatsAsync(Fixture("w2.npy")));
        var inputs = await NpyFiles.ReadFloatsAsync(Fixture("inputs.npy"));
        int[] rows = [0, 1, 2, 30, 31, 32]; // three striped samples and three of noise
        long[] targets = [0, 1, 2, 0, 1, 2];
        var x = rows.SelectMany(r => inputs.AsSpan(r * 16, 16).ToArray()).ToArray();
        using var model = TinyModels.Load("tcav/model.pt");
        var split = model.Split("1");
        using var scope = NewDisposeScope();
        var input = tensor(x, [rows.Length, 1, 4, 4]);
        var derivatives = ConceptLayer.Derivatives(model, split, input, tensor(targets), Vectors());

        // By hand: h = W1 x + b1; ∂y_t/∂h_j = W2[t, j] · 1(h_j > 0) (the ReLU); the derivative along v is Σ_j ∂y_t/∂h_j · v_j.
        var nonZero = 0;
        for (var i = 0; i < rows.Length; i++)
            for (var v = 0; v < Cavs.Length; v++)
            {
                var expected = 0.0;
                for (var j = 0; j < 6; j++)
                {
                    var h = b1[j] + Enumerable.Range(0, 16).Sum(p => (double)w1[j * 16 + p] * x[i * 16 + p]);
                    if (h > 0) expected += w2[targets[i] * 6 + j] * Cavs[v][j];
                }
                Assert.Equal(expected, derivatives[i * 2 + v], 5);
                if (Math.Abs(expected) > 0.1) nonZero++;
            }
        Assert.True(nonZero >= 6, "the hand computation should not be trivially zero");

        // The shared pass's gradient at the same layer (the methods' split) gives the same derivatives.
        var batch = GradientBatch.Compute(model, input, tensor(targets), split, needGradients: true);
        var shared = ConceptLayer.Derivatives(model, split, input, batch.Targets, Vectors(), batch.FeatureGrad);
        for (var k = 0; k < derivatives.Length; k++) Assert.Equal(derivatives[k], shared[k], 6);
    }

    /// <summary>
    /// The solver's result satisfies the optimality conditions of the L2 logistic regression it states, on a set that is not
    /// separable: (1/n) Σ (pᵢ − tᵢ) xᵢ + λ w = 0 and Σ (pᵢ − tᵢ) = 0, with w = Σ αᵢ xᵢ.
    /// </summary>
    [Fact]
    public void Solve_OverlappingSets_MeetsTheOptimalityConditions()
    {
        var random = new Random(3);
        const int n = 80, d = 5;
        var x = new double[n, d];
        var positive = new bool[n];
        for (var i = 0; i < n; i++)
        {
            positive[i] = i < n / 2;
            for (var j = 0; j < d; j++) x[i, j] = random.NextDouble() * 2 - 1 + (positive[i] && j == 0 ? 1.2 : 0) + 3; // offset: the bias must absorb it
        }
        var gram = new double[n * n];
        for (var i = 0; i < n; i++)
            for (var k = 0; k < n; k++)
                for (var j = 0; j < d; j++) gram[i * n + k] += x[i, j] * x[k, j];
        var fit = LogisticCav.Solve(gram, positive);
        var w = new double[d];
        for (var i = 0; i < n; i++)
            for (var j = 0; j < d; j++) w[j] += fit.Alpha[i] * x[i, j];
        var gradient = new double[d];
        var biasGradient = 0.0;
        for (var i = 0; i < n; i++)
        {
            var f = fit.Bias + Enumerable.Range(0, d).Sum(j => w[j] * x[i, j]);
            var r = 1 / (1 + Math.Exp(-f)) - (positive[i] ? 1 : 0);
            for (var j = 0; j < d; j++) gradient[j] += r * x[i, j] / n;
            biasGradient += r;
        }
        for (var j = 0; j < d; j++) Assert.Equal(0, gradient[j] + LogisticCav.Lambda * w[j], 9);
        Assert.Equal(0, biasGradient, 9);
        Assert.True(w[0] > 2 * w.Skip(1).Max(Math.Abs), $"the separating direction is the first: w = [{string.Join(", ", w)}]");
        Assert.InRange(fit.Accuracy, 0.6, 1);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.7)]
    [InlineData(-4.2)]
    public void TwoSided_OneAndTwoDegreesOfFreedom_EqualTheClosedForms(double t)
    {
        Assert.Equal(1 - 2 / Math.PI * Math.Atan(Math.Abs(t)), StudentT.TwoSided(t, 1), 12); // Cauchy
        Assert.Equal(1 - Math.Abs(t) / Math.Sqrt(t * t + 2), StudentT.TwoSided(t, 2), 12);
        Assert.Equal(1, StudentT.TwoSided(0, 7), 12);
    }

    [Fact]
    public void Test_TwoSamples_PooledVarianceByHand()
    {
        // Means 3 and 6, sums of squares 10 and 40: pooled variance 50/8, se √(6.25 · 0.4), t = −3/√2.5, df 8.
        var (t, p) = StudentT.Test([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
        Assert.Equal(-3 / Math.Sqrt(2.5), t!.Value, 12);
        Assert.Equal(StudentT.TwoSided(-3 / Math.Sqrt(2.5), 8), p, 12);
        Assert.InRange(p, 0.05, 0.15);
        Assert.Equal((null, 0.0), StudentT.Test([1, 1, 1], [0, 0, 0]));
        Assert.Equal((0.0, 1.0), StudentT.Test([0.5, 0.5], [0.5, 0.5]));
    }

    /// <summary>Two shards' counts fold by addition; the summary's scores are positives over the class's samples, per run.</summary>
    [Fact]
    public void Summary_FoldedCounts_ScoresPerRunAndClass()
    {
        // 2 classes, concepts ["c"], 3 runs: CAV rows (c, run 0..2), then (random, run 0..2); positives [CAV, class].
        ConceptSetRecord[] sets = [new("c", 5, "ab"), new("random", 10, "cd")];
        var first = new TcavPartial("l", ["c"], 3, 5, 0.05, [1, 0.9, 0.8, 0.6, 0.5, 0.7], [4, 2], [4, 0, 4, 1, 3, 0, 2, 1, 1, 1, 3, 0], sets);
        var second = new TcavPartial("l", ["c"], 3, 5, 0.05, [1, 0.9, 0.8, 0.6, 0.5, 0.7], [4, 2], [4, 0, 4, 0, 4, 1, 2, 1, 2, 0, 1, 1], sets);
        var feature = TcavFeature.Instance;
        var sums = feature.NewSums(2);
        sums.Fold(feature.Decode(feature.Encode(first), "first"));
        sums.Fold(feature.Encode(second), "second");
        var summary = Assert.IsType<TcavSummary>(sums.Summarise(new ExplainCluster.Engine.Features.SummaryDraft(["zero", "one"], [], _ => null, new())));
        Assert.Equal([0.9, 0.6], summary.Accuracy.Select(a => Math.Round(a.Mean, 12)));
        Assert.Equal(0.05, summary.CorrectedAlpha);
        var zero = summary.Classes[0];
        Assert.Equal(8, zero.N);
        Assert.Equal([1.0, 1.0, 7 / 8.0], zero.Concepts[0].Scores);
        Assert.Equal([0.5, 3 / 8.0, 0.5], zero.Random.Scores);
        var (t, p) = StudentT.Test([1.0, 1.0, 7 / 8.0], [0.5, 3 / 8.0, 0.5]);
        Assert.Equal(t, zero.Concepts[0].T);
        Assert.Equal(p, zero.Concepts[0].P);
        Assert.Equal(p < 0.05, zero.Concepts[0].Significant);
        Assert.Equal([0, 0.25, 0.25], summary.Classes[1].Concepts[0].Scores);
        Assert.Equal([0.5, 0.25, 0.25], summary.Classes[1].Random.Scores);
    }

    [Fact]
    public void Draw_SameSeedRunAndSet_SamePermutation()
    {
        var a = ConceptVectors.Draw(4, 2, 1, 50);
        Assert.Equal(a, ConceptVectors.Draw(4, 2, 1, 50));
        Assert.Equal(Enumerable.Range(0, 50), a.Order());
        Assert.NotEqual(a, ConceptVectors.Draw(4, 3, 1, 50));
        Assert.NotEqual(a, ConceptVectors.Draw(4, 2, 0, 50));
        Assert.NotEqual(a, ConceptVectors.Draw(5, 2, 1, 50));
    }

    [Fact]
    public void Decode_EncodedVectors_RoundTrip()
    {
        var v = Vectors();
        var back = ConceptVectors.Decode(v.Encode(), "cavs.bin");
        Assert.Equal(v.Vectors, back.Vectors);
        Assert.Equal((v.Layer, v.Runs, v.Examples, v.Dim), (back.Layer, back.Runs, back.Examples, back.Dim));
        Assert.Equal(v.Concepts, back.Concepts);
        Assert.Equal(v.Sets, back.Sets);
        var error = Assert.Throws<ExplainCluster.Engine.ExplainException>(() => ConceptVectors.Decode(v.Encode()[..^3], "cavs.bin"));
        Assert.Equal("cavs.bin: the concept activation vectors are truncated", error.Message);
    }
}
