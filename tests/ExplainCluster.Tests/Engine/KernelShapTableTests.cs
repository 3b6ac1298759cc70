using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>kernel-shap over a table's features: interventional on background rows, a one-hot group one player.</summary>
public sealed class KernelShapTableTests
{
    private static IAttributionMethod Method(string options) => MethodRegistry.Create(new MethodSpec(KernelShap.MethodName, null, options), table: true);

    [Theory]
    [InlineData(6)]   // every coalition of 3 features (2³ − 2)
    [InlineData(4)]   // fewer: sampled, and still exact for a model additive in its features
    public void Attribute_LinearModel_EqualsWTimesXMinusBackgroundMean(int samples)
    {
        using var model = TinyModels.Load("tabular/tabular_linear.pt");
        var (rows, background) = (TableGames.LinearRows[..2], TableGames.LinearRows[2..]);
        long[] targets = [0, 1];
        var (maps, columns) = TableGames.Run(Method($$"""{ "samples": {{samples}} }"""), model, rows, TableGames.Linear, background, targets);
        TableGames.AssertLinearShapley(maps, rows, background, targets); // c's one-hot group one player: the sum over its levels
        Assert.Equal([0f, 0f], columns[0], (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Fact]
    public void Attribute_EveryCoalition_EqualsShapleyEnumeratedOnTheCreditMlp()
    {
        using var model = TinyModels.Load("tabular/credit_mlp.pt");
        var vectors = TableGames.CreditVectors();
        var (explained, background) = (vectors[..3], vectors[3..]);
        var groups = TableGames.Credit;
        var k = groups.Names.Length;
        var (maps, columns) = TableGames.Run(Method("""{ "samples": 8190 }"""), model, explained, groups, background);
        for (var i = 0; i < explained.Length; i++)
        {
            var v = TableGames.Values(model, explained[i], groups, background, TableGames.Predicted(model, explained[i]));
            var phi = TableGames.Shapley(v, k);
            for (var j = 0; j < k; j++) Assert.Equal(phi[j], maps[i * k + j], 1e-5);
            Assert.Equal(0, columns[0][i], 1e-5);
        }
    }

    [Fact]
    public void Attribute_SplitBatches_GiveEachRowTheSameBits()
    {
        using var model = TinyModels.Load("tabular/credit_mlp.pt");
        var vectors = TableGames.CreditVectors();
        var method = Method("""{ "samples": 300 }""");
        var both = TableGames.Run(method, model, vectors[..2], TableGames.Credit, vectors[4..], firstIndex: 7).Maps;
        var second = TableGames.Run(method, model, vectors[1..2], TableGames.Credit, vectors[4..], firstIndex: 8).Maps;
        Assert.Equal(both[13..], second);
    }

    [Theory]
    [InlineData("""{ "hide": "zero" }""", "methods.kernel-shap.hide: unknown field")]
    [InlineData("""{ "background": 50 }""", "methods.kernel-shap.background: expected {\"samples\": N, \"seed\": s} (rows of the data chosen at random)")]
    [InlineData("""{ "background": { "samples": 0 } }""", "methods.kernel-shap.background.samples: expected an integer from 1 to 100000")]
    [InlineData("""{ "background": { "rows": 5 } }""", "methods.kernel-shap.background.rows: unknown field")]
    [InlineData("""{ "background": { "kmeans": 4, "rows": 5 } }""", "methods.kernel-shap.background.rows: unknown field")]
    [InlineData("""{ "background": { "kmeans": 1001 } }""", "methods.kernel-shap.background.kmeans: expected an integer from 1 to 1000")]
    public void Create_BadTableOption_IsOneLineNamingTheField(string options, string message)
    {
        var error = Assert.Throws<ExplainException>(() => Method(options));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Create_BackgroundOnAnImageJob_IsUnknown()
    {
        var error = Assert.Throws<ExplainException>(() => MethodRegistry.Create(new MethodSpec(KernelShap.MethodName, null, """{ "background": { "samples": 5 } }""")));
        Assert.Equal("methods.kernel-shap.background: unknown field", error.Message);
    }
}
