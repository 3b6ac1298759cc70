using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class SaliencyTests
{
    // logits = W x + b; for x = [1, 2, 3, 4]: [-9.9, 6.3, 3.3], so the prediction is class 1.
    [Fact]
    public void Attribute_LinearModelPredictedTarget_IsAbsoluteWeightRow()
    {
        using var model = TinyModels.Load("tiny_linear.pt");
        var map = TinyModels.Attribute(new Saliency(), model, tensor(new float[] { 1, 2, 3, 4 }).view(1, 4));
        Assert.Equal(new[] { 0.5f, 0.5f, 1f, 2f }, map);
    }

    [Fact]
    public void Attribute_LinearModelLabelTarget_UsesLabelRowPerSample()
    {
        using var model = TinyModels.Load("tiny_linear.pt");
        var input = tensor(new float[] { 1, 2, 3, 4, -1, 0, 2, 5 }).view(2, 4);
        var map = TinyModels.Attribute(new Saliency(), model, input, labels: [2, 0]);
        Assert.Equal(new[] { 3f, 1f, 0f, 1f, 1f, 2f, 3f, 4f }, map);
    }
}
