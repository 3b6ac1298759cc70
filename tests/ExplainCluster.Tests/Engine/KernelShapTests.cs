using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class KernelShapTests
{
    private static readonly float[][] Images =
    [
        [0.9f, -0.4f, 0.2f, 0.7f, 0.1f, -0.8f, 0.3f, 0.6f, -0.2f],
        [-0.5f, 0.8f, 0.4f, -0.1f, 1.2f, 0.25f, -0.7f, 0.05f, 0.5f],
    ];

    private static KernelShap Method(int samples, string extra = "") =>
        (KernelShap)MethodRegistry.Create(new MethodSpec("kernel-shap", null, $$"""{ "samples": {{samples}} {{extra}} }"""));

    /// <summary>The tiny CNN's target logit with the segments outside <paramref name="coalition"/> set to <paramref name="hidden"/>, by hand.</summary>
    private static double F(float[] x, int[] segmentOf, int coalition, float hidden, int target) =>
        TinyModels.CnnLogits([.. x.Select((v, p) => (coalition >> segmentOf[p] & 1) == 1 ? v : hidden)])[target];

    /// <summary>φⱼ = Σ_{S ∌ j} |S|!(k − |S| − 1)!/k! · (f(S ∪ j) − f(S)), every coalition enumerated.</summary>
    private static double[] ExactShapley(float[] x, int[] segmentOf, int k, float hidden, int target)
    {
        double Factorial(int m) => m <= 1 ? 1 : m * Factorial(m - 1);
        var phi = new double[k];
        for (var j = 0; j < k; j++)
            for (var s = 0; s < 1 << k; s++)
            {
                if ((s >> j & 1) == 1) continue;
                var size = System.Numerics.BitOperations.PopCount((uint)s);
                phi[j] += Factorial(size) * Factorial(k - size - 1) / Factorial(k)
                    * (F(x, segmentOf, s | 1 << j, hidden, target) - F(x, segmentOf, s, hidden, target));
            }
        return phi;
    }

    private static int Predicted(float[] x) => TinyModels.CnnLogits(x) is var l && l[1] > l[0] ? 1 : 0;

    [Theory]
    [InlineData(3, 3, 510, "", 0f)]            // a pixel per segment, k = 9: 2⁹ − 2 coalitions
    [InlineData(3, 1, 6, ", \"hide\": 0.3", 0.3f)] // three rows, hidden by a constant
    [InlineData(1, 3, 4096, "", 0f)]           // more samples than coalitions: each still once
    public void Attribute_EveryCoalition_EqualsExactShapley(int rows, int cols, int samples, string extra, float hidden)
    {
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var segments = TinyModels.Grid(2, 3, 3, rows, cols);
        var segmentOf = segments.Labels[0].flatten().data<long>().Select(l => (int)l).ToArray();
        var (maps, columns) = TinyModels.Run(Method(samples, extra), model, tensor(Images.SelectMany(i => i).ToArray(), [2, 1, 3, 3]), segments: segments);
        for (var i = 0; i < 2; i++)
        {
            var phi = ExactShapley(Images[i], segmentOf, rows * cols, hidden, Predicted(Images[i]));
            for (var p = 0; p < 9; p++) Assert.Equal(phi[segmentOf[p]], maps[i * 9 + p], 1e-5);
            Assert.Equal(0, columns[0][i], 1e-5);
        }
    }

    [Fact]
    public void Attribute_FewerSamplesThanCoalitions_KeepsEfficiency()
    {
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var segments = TinyModels.Grid(2, 3, 3, 3, 3);
        var (maps, columns) = TinyModels.Run(Method(64), model, tensor(Images.SelectMany(i => i).ToArray(), [2, 1, 3, 3]), segments: segments);
        for (var i = 0; i < 2; i++)
        {
            var target = Predicted(Images[i]);
            var gain = TinyModels.CnnLogits(Images[i])[target] - TinyModels.CnnLogits(new float[9])[target];
            Assert.Equal(gain, maps.Skip(i * 9).Take(9).Sum(), 1e-4);
            Assert.Equal(0, columns[0][i], 1e-5);
        }
    }

    [Fact]
    public void Attribute_SplitBatches_GiveEachSampleTheSameValues()
    {
        using var model = TinyModels.Load("tiny_cnn_sequential.pt");
        var input = tensor(Images.SelectMany(i => i).ToArray(), [2, 1, 3, 3]);
        var both = TinyModels.Run(Method(100), model, input, firstIndex: 7, segments: TinyModels.Grid(2, 3, 3, 3, 3)).Maps;
        var second = TinyModels.Run(Method(100), model, input.narrow(0, 1, 1), firstIndex: 8, maxRows: 13, segments: TinyModels.Grid(1, 3, 3, 3, 3)).Maps;
        // Same coalitions; a forward over other row counts may round differently in the last bits.
        Assert.Equal(9, second.Length);
        for (var p = 0; p < 9; p++) Assert.Equal(both[9 + p], second[p], 1e-5);
        var otherSeed = TinyModels.Run(Method(100, ", \"seed\": 1"), model, input, firstIndex: 7, segments: TinyModels.Grid(2, 3, 3, 3, 3)).Maps;
        Assert.NotEqual(both, otherSeed);
    }

    [Theory]
    [InlineData("{ \"samples\": 0 }", "methods.kernel-shap.samples: expected an integer from 1 to 1000000")]
    [InlineData("{ \"hide\": \"mean\", \"explain\": \"odds\" }", "methods.kernel-shap.explain: expected one of \"logit\", \"probability\"")]
    [InlineData("{ \"hide\": \"grey\" }", "methods.kernel-shap.hide: expected \"mean\", \"zero\", a number or \"blur\"")]
    [InlineData("{ \"kernelWidth\": 1 }", "methods.kernel-shap.kernelWidth: unknown field")]
    public void Create_BadOption_IsOneLineNamingTheField(string options, string message)
    {
        var error = Assert.Throws<ExplainException>(() => MethodRegistry.Create(new MethodSpec("kernel-shap", null, options)));
        Assert.Equal(message, error.Message);
    }
}
