using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Trust;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine.Trust;

public class RandomLogitTests
{
    private static double[] Run(IAttributionMethod method, float[][] inputs, long[] targets)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_flat.pt");
        var x = tensor(inputs.SelectMany(v => v).ToArray()).view(inputs.Length, 1, 4, 4);
        var shared = GradientBatch.Compute(model, x, tensor(targets), null, needGradients: true);
        var batch = new MethodBatch(model, shared, [.. Enumerable.Range(0, inputs.Length).Select(i => 100L + i)], 256);
        return RandomLogit.Compute(new MethodRerun(method, null), batch, method.Attribute(batch).Maps, 2, seed: 3);
    }

    private static readonly float[][] Inputs =
    [
        [.. Enumerable.Range(0, 16).Select(p => MathF.Sin(p) + 0.2f)],
        [.. Enumerable.Range(0, 16).Select(p => MathF.Cos(3 * p) - 0.1f)],
    ];

    [Fact]
    public void InputMap_DoesNotDependOnTheClass_ScoresOne()
    {
        Assert.Equal([1.0, 1.0], Run(new InputMap(), Inputs, [0, 1]));
    }

    [Fact]
    public void Saliency_LinearModel_ComparesTheTwoWeightRows()
    {
        // Saliency is |W_t|: |p/8 − 2| for class 0 falls with p where |p/8| for class 1 rises, so the maps disagree.
        var similarity = Run(new Saliency(), Inputs, [0, 1]);
        Assert.All(similarity, s => Assert.True(s < 0.5, $"{s}"));
        Assert.Equal(similarity[0], similarity[1], 1e-12); // both compare |W₀| with |W₁|, whichever is the target
    }

    [Fact]
    public void OtherClasses_NeverTheTarget_SpreadOverTheRest()
    {
        var indices = Enumerable.Range(0, 9000).Select(i => (long)i).ToArray();
        var targets = indices.Select(i => i % 10).ToArray();
        var other = RandomLogit.OtherClasses(indices, targets, 10, seed: 7);
        Assert.All(other.Zip(targets), p => Assert.NotEqual(p.First, p.Second));
        // 1000 samples of class 0 over 9 other classes: each about 111 (binomial sd ≈ 10).
        var counts = other.Where((_, i) => targets[i] == 0).GroupBy(c => c).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(9, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 70, 155));
        // Seeded per sample: the same draw whichever list a sample is in.
        Assert.Equal(other[4321], RandomLogit.OtherClasses([4321], [targets[4321]], 10, seed: 7)[0]);
    }
}
