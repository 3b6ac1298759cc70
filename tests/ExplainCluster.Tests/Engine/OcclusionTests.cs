using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>Occlusion on tiny_flat (Flatten + Linear(16, 2) on [1, 4, 4]): each window's logit drop is Σ_j∈window W[c, j](x_j − b), by hand.</summary>
public class OcclusionTests
{
    private static readonly float[] X = [0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f, 1.7f, -0.8f, 0.5f, -1.4f, 0.3f, 1.1f, -0.6f];

    private static IAttributionMethod Create(string options) => MethodRegistry.Create(new MethodSpec(Occlusion.MethodName, null, options));

    /// <summary>Captum's positions in one dimension: k·s for k = 0 .. ⌈(D − w)/s⌉, each window cropped at D.</summary>
    private static int[] Starts(int size, int window, int stride) =>
        [.. Enumerable.Range(0, (int)Math.Ceiling((size - window) / (double)stride) + 1).Select(k => k * stride)];

    /// <summary>Each pixel's mean drop over the windows covering it, the drops written out from the linear model's weights.</summary>
    private static double[] Hand(float[] x, int c, int wh, int ww, int sh, int sw, double baseline)
    {
        var (total, covered) = (new double[16], new int[16]);
        foreach (var r0 in Starts(4, wh, sh))
            foreach (var c0 in Starts(4, ww, sw))
            {
                var inside = Enumerable.Range(0, 16).Where(p => p / 4 >= r0 && p / 4 < r0 + wh && p % 4 >= c0 && p % 4 < c0 + ww).ToArray();
                var drop = inside.Sum(p => TinyModels.FlatW(c, p) * (x[p] - baseline));
                foreach (var p in inside) (total[p], covered[p]) = (total[p] + drop, covered[p] + 1);
            }
        return [.. total.Zip(covered, (t, k) => t / k)];
    }

    [Theory]
    [InlineData("""{ "window": [1, 2, 2] }""", 2, 2, 1, 1, 0.0)]
    [InlineData("""{ "window": [1, 3, 3], "stride": 2 }""", 3, 3, 2, 2, 0.0)]
    [InlineData("""{ "window": [1, 1, 4], "stride": [1, 1, 1], "baseline": 0.5 }""", 1, 4, 1, 1, 0.5)]
    [InlineData("""{ "window": [1, 2, 3], "stride": [1, 2, 1], "maxBatch": 3 }""", 2, 3, 2, 1, 0.0)]
    [InlineData("""{ "window": [1, 4, 4] }""", 4, 4, 1, 1, 0.0)]
    public void Attribute_TinyFlat_MatchesHandComputation(string options, int wh, int ww, int sh, int sw, double baseline)
    {
        using var m = TinyModels.Load("tiny_flat.pt");
        var input = tensor(X.Concat(X.Select(v => -v)).ToArray()).view(2, 1, 4, 4);
        var (maps, _) = TinyModels.Run(Create(options), m, input, labels: [1, 0], maxRows: 5);
        Assert.Equal(32, maps.Length);
        var first = Hand(X, 1, wh, ww, sh, sw, baseline);
        var second = Hand([.. X.Select(v => -v)], 0, wh, ww, sh, sw, baseline);
        for (var p = 0; p < 16; p++)
        {
            Assert.Equal(first[p], maps[p], 1e-4);
            Assert.Equal(second[p], maps[16 + p], 1e-4);
        }
        Assert.Contains(maps, v => Math.Abs(v) > 0.1);
    }

    /// <summary>Captum's Occlusion, vendored by tools/make_cam_fixture.py, on the CAM fixture's CNN and inputs (windows cropped at the edge).</summary>
    [Theory]
    [InlineData("occlusion-a", """{ "window": [3, 4, 4], "stride": 3 }""")]
    [InlineData("occlusion-b", """{ "window": [1, 5, 5], "stride": [1, 2, 2], "baseline": 0.25, "maxBatch": 7 }""")]
    public async Task Attribute_CamFixture_AgreesWithCaptum(string fixture, string options)
    {
        using var m = ExplainModel.Load(TestPaths.Fixture("cam/model.pt"), CPU, "cam");
        var inputs = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture("cam/inputs.npy"));
        var expected = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture($"cam/{fixture}.npy"));
        var map = TinyModels.Attribute(Create(options), m, tensor(inputs).view(4, 3, 12, 12));
        Assert.Equal(expected.Length, map.Length);
        var scale = expected.Max(Math.Abs);
        for (var i = 0; i < map.Length; i++) Assert.True(Math.Abs(expected[i] - map[i]) <= 1e-4 * scale, $"{fixture}[{i}]: {map[i]} vs Captum's {expected[i]}");
    }

    [Fact]
    public void Attribute_WholeSampleWindow_GivesEveryInputTheWholeDrop()
    {
        // One position: every input gets y(x) − y(baseline), here the linear model's Σ_p W[c, p](x_p − 0).
        using var m = TinyModels.Load("tiny_flat.pt");
        var map = TinyModels.Attribute(Create("""{ "window": [1, 4, 4] }"""), m, tensor(X).view(1, 1, 4, 4), labels: [0]);
        var drop = Enumerable.Range(0, 16).Sum(p => TinyModels.FlatW(0, p) * X[p]);
        Assert.All(map, v => Assert.Equal(drop, v, 1e-4));
    }

    [Theory]
    [InlineData("""{ "window": [2, 2] }""", "occlusion window [2, 2] has 2 sizes; a sample is [1, 4, 4], so it needs 3")]
    [InlineData("""{ "window": [1, 5, 2] }""", "occlusion window [1, 5, 2] exceeds a sample's shape [1, 4, 4]")]
    [InlineData("""{ "window": [1, 2, 2], "stride": 3 }""", "occlusion stride 3 exceeds the window's 2 in dimension 1: some inputs would never be occluded")]
    public void Attribute_WindowThatDoesNotFit_IsOneLineError(string options, string message)
    {
        using var m = TinyModels.Load("tiny_flat.pt");
        var error = Assert.Throws<ExplainException>(() => TinyModels.Attribute(Create(options), m, tensor(X).view(1, 1, 4, 4)));
        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("{}", "methods.occlusion.window: expected a list of positive integers, one per dimension of a sample (e.g. [1, 4, 4])")]
    [InlineData("""{ "window": [1, 0, 2] }""", "methods.occlusion.window: expected a list of positive integers, one per dimension of a sample (e.g. [1, 4, 4])")]
    [InlineData("""{ "window": [1, 2, 2], "stride": [1, 2] }""", "methods.occlusion.stride: expected a positive integer or a list of 3 (one per window dimension)")]
    [InlineData("""{ "window": [1, 2, 2], "stride": 0 }""", "methods.occlusion.stride: expected a positive integer or a list of 3 (one per window dimension)")]
    [InlineData("""{ "window": [1, 2, 2], "windows": 1 }""", "methods.occlusion.windows: unknown field")]
    public void Create_BadOptions_IsOneLineErrorNamingTheField(string options, string message)
    {
        var error = Assert.Throws<ExplainException>(() => Create(options));
        Assert.Equal(message, error.Message);
    }
}
