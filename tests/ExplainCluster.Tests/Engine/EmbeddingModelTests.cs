using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Tests.Data;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// A model with embedding inputs for credit_data's categoricals (each fed as a level's index) against the one-hot MLP
/// equal to it (its first layer's columns for a categorical are the embedding's rows; tools/make_tabular_fixtures.py):
/// the coalition methods see the same game through either encoding, so their attributions per feature agree.
/// </summary>
public sealed class EmbeddingModelTests
{
    /// <summary>credit_data's 13 features with each categorical index-encoded: the embedding model's vector.</summary>
    private static FeatureGroups Indexed => TableGames.Groups(TableFiles.CreditData("t.csv", TableFiles.CreditEmbeddingFeatures));

    /// <summary>A one-hot vector as the index vector: a one-hot group becomes its hot level's index.</summary>
    private static float[] ToIndex(float[] onehot, FeatureGroups groups) =>
        [.. groups.Names.Select((_, f) => groups.Widths[f] == 1 ? onehot[groups.Offsets[f]]
            : (float)Array.IndexOf(onehot, 1f, groups.Offsets[f], groups.Widths[f]) - groups.Offsets[f])];

    [Theory]
    [InlineData(KernelShap.MethodName, """{ "samples": 8190 }""")]  // every coalition of 13 features
    [InlineData(KernelShap.MethodName, """{ "samples": 300 }""")]   // sampled: the same coalitions through both encodings
    [InlineData(PermutationShap.MethodName, """{ "permutations": 3 }""")]
    public void Attribute_IndexEncodedEmbeddingModel_EqualsTheOneHotMlpPerFeature(string method, string options)
    {
        using var embedding = TinyModels.Load("tabular/credit_embedding.pt");
        using var onehot = TinyModels.Load("tabular/credit_onehot.pt");
        var vectors = TableGames.CreditVectors();
        var (groups, indexed) = (TableGames.Credit, Indexed);
        var indices = vectors.Select(v => ToIndex(v, groups)).ToArray();
        Assert.Equal(13, indexed.Width);
        Assert.Equal([5f, 1, 0, 1], new[] { 1, 4, 5, 6 }.Select(f => indices[0][f])); // row 0: Home rent, Marital married, Records no, Job freelance

        var attribution = MethodRegistry.Create(new MethodSpec(method, null, options), table: true);
        long[] targets = [1, 0, 1];
        var viaOneHot = TableGames.Run(attribution, onehot, vectors[..3], groups, vectors[3..], targets).Maps;
        var viaIndex = TableGames.Run(attribution, embedding, indices[..3], indexed, indices[3..], targets).Maps;
        Assert.Equal(3 * 13, viaIndex.Length);
        Assert.Contains(viaIndex, v => Math.Abs(v) > 1e-2);
        for (var e = 0; e < viaIndex.Length; e++) Assert.Equal(viaOneHot[e], viaIndex[e], 1e-6);
    }

    [Fact]
    public void Attribute_EveryCoalition_EqualsShapleyEnumeratedOnTheEmbeddingModel()
    {
        using var model = TinyModels.Load("tabular/credit_embedding.pt");
        var indices = TableGames.CreditVectors().Select(v => ToIndex(v, TableGames.Credit)).ToArray();
        var groups = Indexed;
        var method = MethodRegistry.Create(new MethodSpec(KernelShap.MethodName, null, """{ "samples": 8190 }"""), table: true);
        var maps = TableGames.Run(method, model, indices[..1], groups, indices[1..], [1]).Maps;
        var phi = TableGames.Shapley(TableGames.Values(model, indices[0], groups, indices[1..], 1), 13);
        for (var j = 0; j < 13; j++) Assert.Equal(phi[j], maps[j], 1e-5);
    }
}
