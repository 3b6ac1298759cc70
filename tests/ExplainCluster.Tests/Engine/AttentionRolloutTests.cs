using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class AttentionRolloutTests
{
    /// <summary>tiny_attention.pt (tools/make_vit.py): layer l, head h, row r is Raw[l][h][r] / its sum, for every sample.</summary>
    private static readonly double[][][][] Raw =
    [
        [[[4, 1, 2, 1, 2], [1, 3, 1, 1, 2], [2, 2, 2, 1, 1], [1, 1, 1, 4, 1], [3, 1, 2, 1, 1]],
         [[1, 2, 3, 4, 2], [2, 2, 2, 2, 2], [1, 1, 5, 2, 1], [4, 1, 1, 1, 1], [1, 3, 1, 1, 2]]],
        [[[2, 3, 1, 1, 1], [1, 1, 1, 1, 4], [3, 1, 1, 2, 1], [1, 2, 2, 2, 1], [2, 1, 1, 1, 3]],
         [[1, 1, 1, 5, 2], [3, 1, 2, 1, 1], [1, 4, 1, 1, 1], [2, 2, 1, 1, 2], [1, 1, 2, 3, 1]]],
    ];

    private const int Tokens = 5;

    private static AttentionRollout Method(string options = "{}") =>
        (AttentionRollout)MethodRegistry.Create(new MethodSpec(AttentionRollout.MethodName, null, options));

    /// <summary>
    /// By hand: A_l = the heads fused entrywise, Â_l = (A_l + I) / row sums, R = Â_2 · Â_1; the map is R[0, 1..4]
    /// as the 2×2 grid, row-major.
    /// </summary>
    private static double[] HandMap(Func<double, double, double> fuse)
    {
        var hat = new double[2][,];
        for (var l = 0; l < 2; l++)
        {
            hat[l] = new double[Tokens, Tokens];
            for (var r = 0; r < Tokens; r++)
            {
                var s0 = Raw[l][0][r].Sum();
                var s1 = Raw[l][1][r].Sum();
                double rowSum = 0;
                for (var c = 0; c < Tokens; c++)
                {
                    hat[l][r, c] = fuse(Raw[l][0][r][c] / s0, Raw[l][1][r][c] / s1) + (r == c ? 1 : 0);
                    rowSum += hat[l][r, c];
                }
                for (var c = 0; c < Tokens; c++) hat[l][r, c] /= rowSum;
            }
        }
        var map = new double[Tokens - 1];
        for (var c = 1; c < Tokens; c++)
            for (var k = 0; k < Tokens; k++) map[c - 1] += hat[1][0, k] * hat[0][k, c];
        return map;
    }

    private static Tensor TinyInput(int n) => arange(4 * n, dtype: ScalarType.Float32).view(n, 1, 2, 2);

    [Theory]
    [InlineData("{}", "mean")]
    [InlineData("""{ "heads": "mean" }""", "mean")]
    [InlineData("""{ "heads": "max" }""", "max")]
    [InlineData("""{ "heads": "min" }""", "min")]
    public void Attribute_TinyAttention_MatchesHandRollout(string options, string heads)
    {
        using var model = TinyModels.Load("tiny_attention.pt");
        Func<double, double, double> fuse = heads switch
        {
            "max" => Math.Max,
            "min" => Math.Min,
            _ => (a, b) => (a + b) / 2,
        };
        var expected = HandMap(fuse);
        var maps = TinyModels.Attribute(Method(options), model, TinyInput(2));
        Assert.Equal(2 * 4, maps.Length);
        for (var i = 0; i < maps.Length; i++) Assert.Equal(expected[i % 4], maps[i], 1e-6);
    }

    [Fact]
    public void Attribute_HeadsOption_ChangesTheMap()
    {
        using var model = TinyModels.Load("tiny_attention.pt");
        var mean = TinyModels.Attribute(Method(), model, TinyInput(1));
        var max = TinyModels.Attribute(Method("""{ "heads": "max" }"""), model, TinyInput(1));
        Assert.NotEqual(mean, max);
    }

    [Fact]
    public void Attribute_TinyAttention_HasShapeOfGrid()
    {
        using var model = TinyModels.Load("tiny_attention.pt");
        using var scope = NewDisposeScope();
        var batch = GradientBatch.Compute(model, TinyInput(3), null, null, needGradients: false);
        var maps = Method().Attribute(new MethodBatch(model, batch, [0, 1, 2], 2)).Maps;
        Assert.Equal(new long[] { 3, 2, 2 }, maps.shape);
        Assert.Equal(ScalarType.Float32, maps.dtype);
    }

    [Fact]
    public void Attribute_Discard_KeepsRowsStochasticAndChangesTheRollout()
    {
        using var model = TinyModels.Load("tiny_attention.pt");
        using var scope = NewDisposeScope();
        var layers = model.AttentionMaps(TinyInput(1));
        var kept = Method().Rollout(layers, "tiny");
        var dropped = Method("""{ "discard": 0.3 }""").Rollout(layers, "tiny");
        Assert.True(dropped.sum(-1).allclose(ones(1, Tokens), atol: 1e-6));
        Assert.True(dropped.min().item<float>() >= 0);
        Assert.False(dropped.allclose(kept, atol: 1e-4));
    }

    [Fact]
    public void Attribute_ModelWithoutExport_SaysHowToAddIt()
    {
        using var model = TinyModels.Load("tiny_cnn_plain.pt");
        var error = Assert.Throws<ExplainException>(() =>
            TinyModels.Attribute(Method(), model, tensor(new float[9]).view(1, 1, 3, 3)));
        Assert.Equal("model tiny_cnn_plain.pt does not export attention_maps(x); see README, \"Adding attention_maps to a vision transformer\"", error.Message);
    }

    [Theory]
    [InlineData("""{ "heads": "median" }""", "methods.attention-rollout.heads")]
    [InlineData("""{ "discard": 1 }""", "methods.attention-rollout.discard")]
    [InlineData("""{ "head": "max" }""", "head")]
    public void Create_BadOption_NamesIt(string options, string named)
    {
        var error = Assert.Throws<ExplainException>(() => Method(options));
        Assert.Contains(named, error.Message);
    }

    /// <summary>The first <paramref name="n"/> Fashion-MNIST test images, preprocessed as samples/fashion-mnist/job.json says.</summary>
    private static Tensor FashionImages(int n)
    {
        var bytes = File.ReadAllBytes(TestPaths.Sample("t10k-images-idx3-ubyte")).AsSpan(16, n * 28 * 28).ToArray();
        return (tensor(bytes).to(ScalarType.Float32) / 255 - 0.286) / 0.353;
    }

    [Fact]
    public void Attribute_TrainedVit_GivesGridMapsFromStochasticRollouts()
    {
        using var model = TinyModels.Load("vit_fashion.pt");
        using var scope = NewDisposeScope();
        var x = FashionImages(8).view(8, 1, 28, 28);
        var layers = model.AttentionMaps(x);
        Assert.Equal(2, layers.Length);
        Assert.All(layers, a => Assert.Equal(new long[] { 8, 4, 17, 17 }, a.shape));

        var rollout = Method().Rollout(layers, "vit");
        Assert.True(rollout.sum(-1).allclose(ones(8, 17), atol: 1e-5));
        Assert.True(rollout.min().item<float>() >= 0);

        var batch = GradientBatch.Compute(model, x, null, null, needGradients: false);
        var maps = Method().Attribute(new MethodBatch(model, batch, [.. Enumerable.Range(0, 8).Select(i => (long)i)], 256)).Maps;
        Assert.Equal(new long[] { 8, 4, 4 }, maps.shape);
        Assert.True(maps.min().item<float>() >= 0);
        Assert.True(maps.allclose(rollout[.., 0, 1..].reshape(8, 4, 4)));
        Assert.True(maps.sum([1, 2]).le(1 + 1e-5).all().item<bool>());
        for (var i = 1; i < 8; i++) Assert.False(maps[i].allclose(maps[0], atol: 1e-3), $"sample {i} has sample 0's map");
    }

    [Fact]
    public void Attribute_TrainedVit_ClassifiesHeldOutImages()
    {
        using var model = TinyModels.Load("vit_fashion.pt");
        using var scope = NewDisposeScope();
        var labels = File.ReadAllBytes(TestPaths.Sample("t10k-labels-idx1-ubyte")).AsSpan(8, 500).ToArray();
        using var noGrad = no_grad();
        var predicted = model.Forward(FashionImages(500).view(500, 1, 28, 28)).argmax(1);
        var accuracy = predicted.eq(tensor(labels).to(ScalarType.Int64)).to(ScalarType.Float32).mean().item<float>();
        Assert.True(accuracy > 0.75, $"accuracy {accuracy}");
    }
}
