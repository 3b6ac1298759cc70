using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class GradTimesInputTests
{
    [Fact]
    public void Attribute_LinearModel_IsWeightRowTimesInput()
    {
        using var model = TinyModels.Load("tiny_linear.pt");
        // x = [1, 2, 3, 4] predicts class 1 (W row [0.5, 0.5, -1, 2]); x = [4, 0, 0, 0] predicts class 0 (logits 4.1, 1.8, -11.7).
        var input = tensor(new float[] { 1, 2, 3, 4, 4, 0, 0, 0 }).view(2, 4);
        var map = TinyModels.Attribute(new GradTimesInput(), model, input);
        Assert.Equal(new[] { 0.5f, 1f, -3f, 8f, 4f, 0f, 0f, 0f }, map);
    }

    [Fact]
    public void Attribute_LinearModel_SumsToLogitMinusBias()
    {
        // For a linear model, Σ grad·x = y_target − b_target (completeness), independently of the method's code.
        using var model = TinyModels.Load("tiny_linear.pt");
        var x = new float[] { 0.3f, -1.2f, 2.5f, 0.7f };
        var map = TinyModels.Attribute(new GradTimesInput(), model, tensor(x).view(1, 4), labels: [0]);
        var expected = 0f;
        for (var j = 0; j < 4; j++) expected += TinyModels.LinearW[0, j] * x[j];
        Assert.Equal(expected, map.Sum(), 4);
    }
}
