using ExplainCluster.Engine.Trust;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine.Trust;

/// <summary>Sparseness and complexity as Quantus computes them (its sparseness.py and complexity.py, abs then normalise_by_max).</summary>
public class ComplexityTests
{
    private static (double Sparseness, double Entropy) Of(float[] map)
    {
        using var scope = NewDisposeScope();
        var (s, e) = Complexity.Of(tensor(map).view(1, 1, map.Length));
        return (s.item<double>(), e.item<double>());
    }

    [Theory]
    [InlineData(9)]
    [InlineData(784)]
    public void OneHotMap_IsMaximallySparseWithZeroEntropy(int n)
    {
        var map = new float[n];
        map[n / 3] = -2.5f; // |map|, normalised by its maximum
        var (sparseness, entropy) = Of(map);
        // Quantus adds 1e-7 to every value: Σ(2i − n − 1)·a_i = n − 1 and Σ a_i = 1 + n·1e-7.
        Assert.Equal((n - 1.0) / (n * (1 + n * 1e-7)), sparseness, 1e-12);
        Assert.Equal(0, entropy, 1e-9);
        // Maximal: a second non-zero value lowers it.
        map[0] = 0.01f;
        Assert.True(Of(map).Sparseness < sparseness);
    }

    [Fact]
    public void UniformMap_HasZeroSparsenessAndEntropyLogN()
    {
        var (sparseness, entropy) = Of([.. Enumerable.Repeat(0.3f, 64)]);
        Assert.Equal(0, sparseness, 1e-12);
        Assert.Equal(Math.Log(64), entropy, 1e-9);
    }

    [Fact]
    public void HandMap_EqualsTheGiniAndEntropyWrittenOut()
    {
        // |map| = (1, 3, 2, 4) normalised by 4 → (0.25, 0.75, 0.5, 1), sorted (0.25, 0.5, 0.75, 1) + 1e-7;
        // Gini = Σ (2i − 5) a_i / (4 Σ a) = (−3·0.25 − 0.5 + 0.75 + 3·1 + 1e-7·0) / (4 · (2.5 + 4e-7)) = 2.5 / (10 + 1.6e-6).
        var (sparseness, entropy) = Of([1, -3, 2, 4]);
        Assert.Equal(2.5 / (10 + 1.6e-6), sparseness, 1e-12);
        var p = new[] { 0.1, 0.3, 0.2, 0.4 };
        Assert.Equal(-p.Sum(v => v * Math.Log(v + 1e-12)), entropy, 1e-12);
    }

    [Fact]
    public void ZeroMap_HasNeither()
    {
        var (sparseness, entropy) = Of(new float[16]);
        Assert.True(double.IsNaN(sparseness) && double.IsNaN(entropy));
    }
}
