using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class GradCamTests
{
    private static readonly float[] X = [0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f];

    /// <summary>ReLU(Σ_k α_k A_k), α_k = mean_p ∂y_c/∂A[k,p] = mean_p W[c, k, p].</summary>
    private static float[] HandCam(float[] x, int target)
    {
        var a = TinyModels.Activations(x);
        var cam = new float[9];
        for (var k = 0; k < 2; k++)
        {
            var alpha = Enumerable.Range(0, 9).Average(p => TinyModels.HeadW(target, k, p));
            for (var p = 0; p < 9; p++) cam[p] += (float)alpha * a[k, p];
        }
        return [.. cam.Select(v => Math.Max(0, v))];
    }

    [Theory]
    [InlineData("tiny_cnn_sequential.pt", "1")]
    [InlineData("tiny_cnn_timm.pt", "forward_features")]
    public void Attribute_TinyCnn_MatchesHandComputation(string model, string layer)
    {
        using var m = TinyModels.Load(model);
        var logits = TinyModels.CnnLogits(X);
        var predicted = logits[1] > logits[0] ? 1 : 0;
        var map = TinyModels.Attribute(new GradCam(layer), m, tensor(X).view(1, 1, 3, 3));
        var expected = HandCam(X, predicted);
        Assert.Equal(9, map.Length);
        for (var p = 0; p < 9; p++) Assert.Equal(expected[p], map[p], 4);
        Assert.Contains(map, v => v > 0);
    }

    [Fact]
    public void Attribute_LabelTargetOfOtherClass_UsesThatClassWeights()
    {
        using var m = TinyModels.Load("tiny_cnn_sequential.pt");
        var map = TinyModels.Attribute(new GradCam("1"), m, tensor(X).view(1, 1, 3, 3), labels: [0]);
        var expected = HandCam(X, 0);
        for (var p = 0; p < 9; p++) Assert.Equal(expected[p], map[p], 4);
    }

    [Fact]
    public void Attribute_LayerWithoutSpatialDims_SaysWhatIsNeeded()
    {
        using var m = TinyModels.Load("tiny_cnn_sequential.pt");
        var error = Assert.Throws<ExplainException>(() => TinyModels.Attribute(new GradCam("2"), m, tensor(X).view(1, 1, 3, 3)));
        Assert.Contains("[n, channels, height, width]", error.Message);
    }
}
