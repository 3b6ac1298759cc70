using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// The CAM variants over the shared layer pass: each against a hand computation on the tiny CNN (its layer's
/// activations and gradients known in closed form) and against pytorch-grad-cam 1.5.5's formulas on
/// tests/fixtures/cam (tools/make_cam_fixture.py).
/// </summary>
public class CamFamilyTests
{
    public static readonly string[] Variants =
    [
        "grad-cam", GradCamPlusPlus.MethodName, HiResCam.MethodName, XGradCam.MethodName, LayerCam.MethodName,
        GradCamElementWise.MethodName, EigenCam.MethodName, EigenGradCam.MethodName, ScoreCam.MethodName, AblationCam.MethodName,
    ];

    /// <summary>The gradient-free variants' fixture maps are at the ReLU (layer "1"), the others' at the signed conv (layer "2").</summary>
    private static string FixtureLayer(string method) => method is ScoreCam.MethodName or AblationCam.MethodName ? "1" : "2";

    public static TheoryData<string> VariantNames => [.. Variants];

    private static readonly float[] X = [0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f];

    private static IAttributionMethod Create(string name, string layer) =>
        MethodRegistry.Create(new MethodSpec(name, null, $$"""{ "layer": "{{layer}}" }"""));

    /// <summary>
    /// The tiny CNN's activations A[k, p] and ∂y_c/∂A[k, p] at layer "0" (the 1×1 conv: x and 0.5 − x, signed; the
    /// gradient is the head's weight where the ReLU passes, else 0) or "1" (after the ReLU: the head's weight).
    /// </summary>
    private static (double[,] A, double[,] G) Layer(float[] x, string layer, int c)
    {
        var (a, g) = (new double[2, 9], new double[2, 9]);
        for (var p = 0; p < 9; p++)
            for (var k = 0; k < 2; k++)
            {
                var conv = k == 0 ? x[p] : 0.5 - x[p];
                a[k, p] = layer == "0" ? conv : Math.Max(0, conv);
                g[k, p] = layer == "0" && conv <= 0 ? 0 : TinyModels.HeadW(c, k, p);
            }
        return (a, g);
    }

    /// <summary>pytorch-grad-cam's formulas written out position by position, then ReLU.</summary>
    private static double[] Hand(string method, float[] x, string layer, int c)
    {
        var (a, g) = Layer(x, layer, c);
        var scores = method switch
        {
            "score-cam" => Softmax([.. Enumerable.Range(0, 2).Select(k => (double)TinyModels.CnnLogits(Masked(x, a, k))[c])]),
            "ablation-cam" => AblationWeights(x, c),
            _ => null,
        };
        var cam = new double[9];
        for (var k = 0; k < 2; k++)
        {
            var sum = Enumerable.Range(0, 9).Sum(p => a[k, p]);
            var weight = method switch
            {
                "grad-cam" => Enumerable.Range(0, 9).Average(p => g[k, p]),
                "grad-cam-plus-plus" => Enumerable.Range(0, 9).Sum(p => g[k, p] == 0 ? 0
                    : Math.Max(0, g[k, p]) * g[k, p] * g[k, p] / (2 * g[k, p] * g[k, p] + sum * Math.Pow(g[k, p], 3) + 1e-6)),
                "xgrad-cam" => Enumerable.Range(0, 9).Sum(p => g[k, p] * a[k, p] / (sum + 1e-7)),
                "score-cam" or "ablation-cam" => scores![k],
                _ => double.NaN,
            };
            for (var p = 0; p < 9; p++)
                cam[p] += method switch
                {
                    "hires-cam" => g[k, p] * a[k, p],
                    "layer-cam" => Math.Max(0, g[k, p]) * a[k, p],
                    "grad-cam-element-wise" => Math.Max(0, g[k, p] * a[k, p]),
                    _ => weight * a[k, p],
                };
        }
        if (method is "eigen-cam" or "eigen-grad-cam")
        {
            var v = new double[2, 9];
            for (var k = 0; k < 2; k++)
                for (var p = 0; p < 9; p++) v[k, p] = method == "eigen-cam" ? a[k, p] : g[k, p] * a[k, p];
            cam = FirstComponent(v);
        }
        return [.. cam.Select(c => Math.Max(0, c))];
    }

    /// <summary>Score-CAM's masked input: x times channel k min-max scaled (the layer is 3 × 3 as the input, so the upsampling is the identity).</summary>
    private static float[] Masked(float[] x, double[,] a, int k)
    {
        var values = Enumerable.Range(0, 9).Select(p => a[k, p]).ToArray();
        var (low, high) = (values.Min(), values.Max());
        return [.. Enumerable.Range(0, 9).Select(p => (float)(x[p] * (values[p] - low) / (high - low + 1e-8)))];
    }

    private static double[] Softmax(double[] v) => [.. v.Select(e => Math.Exp(e - v.Max()) / v.Sum(f => Math.Exp(f - v.Max())))];

    /// <summary>
    /// Ablation-CAM's (y − s_k) / y: ablating channel k (to 0 after the ReLU, or to min − 10⁷ before it, which the ReLU
    /// then zeroes) removes its head contribution Σ_p W[c, k, p] ReLU(conv_k,p) from the logit.
    /// </summary>
    private static double[] AblationWeights(float[] x, int c)
    {
        var y = TinyModels.CnnLogits(x)[c];
        var relu = TinyModels.Activations(x);
        return [.. Enumerable.Range(0, 2).Select(k => Enumerable.Range(0, 9).Sum(p => (double)TinyModels.HeadW(c, k, p) * relu[k, p]) / y)];
    }

    /// <summary>
    /// Two channels over 9 positions: centre each channel, take the top eigenvector of the 2×2 matrix MᵀM (the first
    /// right singular vector of M), project, and flip the sign when |min| &gt; |max|.
    /// </summary>
    private static double[] FirstComponent(double[,] v)
    {
        var m = new double[2, 9];
        for (var k = 0; k < 2; k++)
        {
            var mean = Enumerable.Range(0, 9).Average(p => v[k, p]);
            for (var p = 0; p < 9; p++) m[k, p] = v[k, p] - mean;
        }
        double Dot(int i, int j) => Enumerable.Range(0, 9).Sum(p => m[i, p] * m[j, p]);
        var (s00, s01, s11) = (Dot(0, 0), Dot(0, 1), Dot(1, 1));
        Assert.NotEqual(0, s01, 6); // the closed form below needs a coupled 2×2
        var top = (s00 + s11) / 2 + Math.Sqrt((s00 - s11) * (s00 - s11) / 4 + s01 * s01);
        var (e0, e1) = (s01, top - s00);
        var norm = Math.Sqrt(e0 * e0 + e1 * e1);
        var projection = Enumerable.Range(0, 9).Select(p => (m[0, p] * e0 + m[1, p] * e1) / norm).ToArray();
        return Math.Abs(projection.Min()) > Math.Abs(projection.Max()) ? [.. projection.Select(x => -x)] : projection;
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void Attribute_TinyCnnBothLayers_MatchesHandComputation(string method)
    {
        using var m = TinyModels.Load("tiny_cnn_sequential.pt");
        // X and −X in one batch, explained for classes 1 and 0: the eigen projections flip for −X and not for X.
        float[] minus = [.. X.Select(v => -v)];
        var input = tensor(X.Concat(minus).ToArray()).view(2, 1, 3, 3);
        foreach (var layer in new[] { "0", "1" })
        {
            var map = TinyModels.Attribute(Create(method, layer), m, input, labels: [1, 0]);
            Assert.Equal(18, map.Length);
            for (var row = 0; row < 2; row++)
            {
                var expected = Hand(method, row == 0 ? X : minus, layer, row == 0 ? 1 : 0);
                for (var p = 0; p < 9; p++) Assert.Equal(expected[p], map[row * 9 + p], 1e-4);
            }
            Assert.Contains(map, v => v > 0);
        }
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public async Task Attribute_CamFixture_AgreesWithPytorchGradCam(string method)
    {
        using var m = ExplainModel.Load(TestPaths.Fixture("cam/model.pt"), CPU, "cam");
        var inputs = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture("cam/inputs.npy"));
        var targets = await NpyFiles.ReadIntegersAsync(TestPaths.Fixture("cam/targets.npy"));
        var expected = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture($"cam/{method}.npy"));

        var map = TinyModels.Attribute(Create(method, FixtureLayer(method)), m, tensor(inputs).view(4, 3, 12, 12));
        using (var logits = m.Forward(tensor(inputs).view(4, 3, 12, 12)).argmax(1)) Assert.Equal(targets, logits.data<long>().ToArray());
        Assert.Equal(expected.Length, map.Length);
        var scale = expected.Max();
        for (var i = 0; i < map.Length; i++) Assert.True(Math.Abs(expected[i] - map[i]) <= 1e-4 * scale, $"{method}[{i}]: {map[i]} vs pytorch-grad-cam's {expected[i]}");
    }

    [Fact]
    public void Attribute_Variants_DifferOnTheFixture()
    {
        // The fixture's layer "2" has signed activations and gradients reaching them, so no two variants coincide.
        using var m = ExplainModel.Load(TestPaths.Fixture("cam/model.pt"), CPU, "cam");
        var input = randn(2, 3, 12, 12, generator: new TorchSharp.torch.Generator(3));
        var maps = Variants.Select(v => TinyModels.Attribute(Create(v, "2"), m, input)).ToArray();
        for (var i = 0; i < maps.Length; i++)
            for (var j = i + 1; j < maps.Length; j++)
                Assert.True(maps[i].Zip(maps[j]).Any(p => Math.Abs(p.First - p.Second) > 1e-5), $"{Variants[i]} equals {Variants[j]}");
    }

    [Theory]
    [InlineData("eigen-cam", "2")]
    [InlineData("score-cam", "1")]
    [InlineData("ablation-cam", "1")]
    public void Attribute_WithoutTheSharedBackward_TakesTheLayerItselfAndGivesTheSameMaps(string method, string layer)
    {
        using var m = ExplainModel.Load(TestPaths.Fixture("cam/model.pt"), CPU, "cam");
        var cam = Create(method, layer);
        Assert.False(cam.UsesSharedGradients);
        var input = randn(3, 3, 12, 12, generator: new TorchSharp.torch.Generator(5));
        var withBackward = TinyModels.Attribute(cam, m, input);
        using var scope = NewDisposeScope();
        var shared = GradientBatch.Compute(m, input, null, m.Split(layer), needGradients: false);
        Assert.Null(shared.Features);
        // A row budget of 5 splits score-cam's and ablation-cam's 3 × 6 perturbed rows into 4 chunks.
        var alone = cam.Attribute(new MethodBatch(m, shared, [0, 1, 2], 5)).Maps.data<float>().ToArray();
        Assert.Equal(withBackward.Length, alone.Length);
        for (var i = 0; i < alone.Length; i++) Assert.Equal(withBackward[i], alone[i], 1e-5);
        Assert.Contains(alone, v => v > 0);
    }

    [Theory]
    [InlineData(16, 3, 3)] // more channels than positions: the positions' Gram matrix
    [InlineData(3, 4, 5)] // fewer: the channels'
    public void FirstComponent_EitherGramMatrix_EqualsTheSvdProjection(int channels, int h, int w)
    {
        using var scope = NewDisposeScope();
        var values = randn(3, channels, h, w, ScalarType.Float64, generator: new TorchSharp.torch.Generator(11));
        var actual = EigenCam.FirstComponent(values).flatten(1);
        var x = values.flatten(2).transpose(1, 2);
        x = x - x.mean([1], keepdim: true);
        var (_, _, vh) = linalg.svd(x, fullMatrices: false);
        var projection = matmul(x, vh.select(1, 0).unsqueeze(-1)).squeeze(-1);
        for (var i = 0; i < 3; i++)
        {
            var p = projection[i].data<double>().ToArray();
            if (Math.Abs(p.Min()) > Math.Abs(p.Max())) p = [.. p.Select(v => -v)];
            var a = actual[i].data<double>().ToArray();
            Assert.True(Math.Abs(a.Max()) >= Math.Abs(a.Min()));
            for (var j = 0; j < p.Length; j++) Assert.Equal(p[j], a[j], 1e-9);
        }
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void Attribute_LayerWithoutSpatialDims_SaysWhatIsNeeded(string method)
    {
        using var m = TinyModels.Load("tiny_cnn_sequential.pt");
        var error = Assert.Throws<ExplainException>(() => TinyModels.Attribute(Create(method, "2"), m, tensor(X).view(1, 1, 3, 3)));
        Assert.Equal($"{method} layer \"2\" gives activations of shape [1, 18]; it needs [n, channels, height, width]", error.Message);
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void Create_UnknownOrMissingOption_IsOneLineError(string method)
    {
        var unknown = Assert.Throws<ExplainException>(() => MethodRegistry.Create(new MethodSpec(method, null, """{ "layer": "2", "alpha": 1 }""")));
        Assert.StartsWith($"methods.{method}.alpha", unknown.Message);
        var missing = Assert.Throws<ExplainException>(() => MethodRegistry.Create(new MethodSpec(method, null, "{}")));
        Assert.StartsWith($"methods.{method}.layer", missing.Message);
        Assert.DoesNotContain('\n', unknown.Message + missing.Message);
    }
}
