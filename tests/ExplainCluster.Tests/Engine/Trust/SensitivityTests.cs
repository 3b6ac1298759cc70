using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Trust;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine.Trust;

/// <summary>
/// Max- and avg-sensitivity on tiny_flat.pt (Flatten + Linear(16, 2) on [1, 4, 4], W[c, p] = (16c + p)/8 − 2): saliency is
/// the weight row whatever the input, so its maps do not move; grad-x-input's map W_t ⊙ x moves by W_t ⊙ ε.
/// </summary>
public class SensitivityTests
{
    private const long Seed = 5;

    private static readonly float[][] Inputs =
    [
        [0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f, 0.7f, -0.8f, 0.5f, 1.1f, -0.2f, 0.4f, -1.5f],
        [-0.2f, 0.7f, 0.3f, -0.9f, 1.5f, 0.4f, -0.6f, 0.8f, 0.05f, -0.3f, 0.2f, 1.2f, -0.7f, 0.6f, -1.0f, 0.25f],
    ];

    private static readonly long[] Targets = [1, 0];
    private static readonly long[] Indices = [17, 40];

    private static (double[] Max, double[] Mean) Run(IAttributionMethod method, SensitivitySpec spec, int maxRows)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Load("tiny_flat.pt");
        var x = tensor(Inputs.SelectMany(v => v).ToArray()).view(2, 1, 4, 4);
        var shared = GradientBatch.Compute(model, x, tensor(Targets), null, needGradients: true);
        var batch = new MethodBatch(model, shared, Indices, maxRows);
        return Sensitivity.Compute(new MethodRerun(method, null), batch, method.Attribute(batch).Maps, spec, Seed);
    }

    [Fact]
    public void Saliency_LinearModel_IsZero()
    {
        // The gradient of a linear model is its weight row: a constant map, so every draw's difference is 0.
        var (max, mean) = Run(new Saliency(), new SensitivitySpec(0.5, 4), 256);
        Assert.Equal([0.0, 0.0], max);
        Assert.Equal([0.0, 0.0], mean);
    }

    [Theory]
    [InlineData(256)]
    [InlineData(3)] // 2 samples × 5 draws in passes of 3 rows: a sample's draws span passes
    public void GradTimesInput_LinearModel_EqualsTheNoiseOverTheMap(int maxRows)
    {
        const double radius = 0.3;
        const int samples = 5;
        var (max, mean) = Run(new GradTimesInput(), new SensitivitySpec(radius, samples), maxRows);
        for (var i = 0; i < 2; i++)
        {
            // Sample i's draws: its own generator from (seed, index), U(−r, r) = rand·2r − r, one [1, 4, 4] draw after another.
            using var generator = new Generator(TrustSeeds.For(Seed, Indices[i], TrustSeeds.Sensitivity), CPU);
            var w = Enumerable.Range(0, 16).Select(p => (double)TinyModels.FlatW((int)Targets[i], p)).ToArray();
            var mapNorm = Math.Sqrt(Enumerable.Range(0, 16).Sum(p => Math.Pow(w[p] * Inputs[i][p], 2)));
            var ratios = Enumerable.Range(0, samples).Select(_ =>
            {
                var u = (rand([1, 4, 4], generator: generator, dtype: ScalarType.Float32) * (2 * radius) - radius).data<float>().ToArray();
                return Math.Sqrt(Enumerable.Range(0, 16).Sum(p => Math.Pow(w[p] * u[p], 2))) / mapNorm;
            }).ToArray();
            Assert.Equal(ratios.Max(), max[i], 1e-5);
            Assert.Equal(ratios.Average(), mean[i], 1e-5);
            Assert.True(max[i] > mean[i] && mean[i] > 0.01); // not vacuous: the draws differ and the map moves
        }
    }
}
