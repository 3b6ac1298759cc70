using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>permutation-shap: antithetic permutations of the players (shap's PermutationExplainer), over a table's features or image segments.</summary>
public sealed class PermutationShapTests
{
    private static IAttributionMethod Method(string options, bool table = true) =>
        MethodRegistry.Create(new MethodSpec(PermutationShap.MethodName, null, options), table);

    [Fact]
    public void Attribute_LinearModel_OnePermutationIsExact()
    {
        using var model = TinyModels.Load("tabular/tabular_linear.pt");
        var (rows, background) = (TableGames.LinearRows[..2], TableGames.LinearRows[2..]);
        long[] targets = [1, 0];
        var (maps, _) = TableGames.Run(Method("""{ "permutations": 1 }"""), model, rows, TableGames.Linear, background, targets);
        TableGames.AssertLinearShapley(maps, rows, background, targets);
    }

    /// <summary>
    /// Each antithetic pair's estimate of φⱼ is the mean of two marginal contributions of j, each within ±Rⱼ (Rⱼ the largest
    /// |v(S ∪ j) − v(S)|, from the enumeration), and the pairs are independent: by Hoeffding, the mean of N pairs is within
    /// t = 2Rⱼ·√(ln(2/δ)/(2N)) of φⱼ but with probability δ. With δ = 1e-9 per feature the seeded draw below is far inside it;
    /// the efficiency Σφ = v(all) − v(∅) holds exactly whatever the draw.
    /// </summary>
    [Fact]
    public void Attribute_ManyPermutations_ConvergeToShapleyOnTheCreditMlp()
    {
        using var model = TinyModels.Load("tabular/credit_mlp.pt");
        var vectors = TableGames.CreditVectors();
        var (explained, background) = (vectors[..2], vectors[3..]);
        var groups = TableGames.Credit;
        var k = groups.Names.Length;
        const int Permutations = 2000;
        var (maps, _) = TableGames.Run(Method($$"""{ "permutations": {{Permutations}} }"""), model, explained, groups, background, maxRows: 4096);
        for (var i = 0; i < explained.Length; i++)
        {
            var v = TableGames.Values(model, explained[i], groups, background, TableGames.Predicted(model, explained[i]));
            var phi = TableGames.Shapley(v, k);
            var range = TableGames.MarginalRange(v, k);
            for (var j = 0; j < k; j++)
                Assert.InRange(maps[i * k + j] - phi[j], -Bound(range[j]), Bound(range[j]));
            Assert.Equal(v[^1] - v[0], maps.Skip(i * k).Take(k).Sum(x => (double)x), 1e-4);
        }

        static double Bound(double r) => 2 * r * Math.Sqrt(Math.Log(2 / 1e-9) / (2 * Permutations)) + 1e-6;
    }

    [Fact]
    public void Attribute_Segments_SumToTheGainAndEqualShapleyOfAnAdditiveGame()
    {
        // tiny_flat.pt is linear over its 16 pixels: the segment game is additive, so any permutation gives exact Shapley values.
        using var model = TinyModels.Load("tiny_flat.pt");
        var image = Enumerable.Range(0, 16).Select(p => (p % 5 - 2) / 3f).ToArray();
        var segments = TinyModels.Grid(1, 4, 4, 2, 2);
        var (maps, _) = TinyModels.Run(Method("""{ "permutations": 2, "hide": 0.25 }""", table: false), model, tensor(image, [1, 1, 4, 4]), labels: [1], segments: segments);
        var segmentOf = segments.Labels[0].flatten().data<long>().ToArray();
        for (var p = 0; p < 16; p++)
        {
            var phi = Enumerable.Range(0, 16).Where(q => segmentOf[q] == segmentOf[p]).Sum(q => TinyModels.FlatW(1, q) * (image[q] - 0.25));
            Assert.Equal(phi, maps[p], 1e-5);
        }
    }

    [Fact]
    public void Create_BadPermutations_IsOneLine()
    {
        var error = Assert.Throws<ExplainCluster.Engine.ExplainException>(() => Method("""{ "permutations": 0 }"""));
        Assert.Equal("methods.permutation-shap.permutations: expected an integer from 1 to 100000", error.Message);
    }
}
