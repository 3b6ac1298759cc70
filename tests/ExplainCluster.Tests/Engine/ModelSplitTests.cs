using ExplainCluster.Engine;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class ModelSplitTests
{
    private static Tensor Batch() => tensor(new float[] { 0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f, 0, 1, 2, 3, 4, 5, 6, 7, 8 }).view(2, 1, 3, 3);

    [Theory]
    [InlineData("tiny_cnn_sequential.pt", "0")]
    [InlineData("tiny_cnn_sequential.pt", "1")]
    [InlineData("tiny_cnn_sequential.pt", "2")]
    [InlineData("tiny_cnn_timm.pt", "forward_features")]
    public void Split_FeaturesThenHead_GivesWholeModelLogits(string model, string layer)
    {
        using var scope = NewDisposeScope();
        using var m = TinyModels.Load(model);
        var split = m.Split(layer);
        var chained = split.Head(split.Features(Batch())).data<float>().ToArray();
        var whole = m.Forward(Batch()).data<float>().ToArray();
        Assert.Equal(whole, chained);
        var byHand = TinyModels.CnnLogits([0.9f, -0.4f, 1.3f, 0.2f, -1.1f, 0.6f, 2.0f, -0.3f, 0.1f]);
        Assert.Equal(byHand[0], whole[0], 4);
        Assert.Equal(byHand[1], whole[1], 4);
    }

    [Fact]
    public void Split_BothConventions_GiveSameFeatures()
    {
        using var scope = NewDisposeScope();
        using var sequential = TinyModels.Load("tiny_cnn_sequential.pt");
        using var timm = TinyModels.Load("tiny_cnn_timm.pt");
        Assert.Equal(
            sequential.Split("1").Features(Batch()).data<float>().ToArray(),
            timm.Split("forward_features").Features(Batch()).data<float>().ToArray());
    }

    [Fact]
    public void Split_UnknownChild_NamesTheChildren()
    {
        using var m = TinyModels.Load("tiny_cnn_sequential.pt");
        var error = Assert.Throws<ExplainException>(() => m.Split("features"));
        Assert.Contains("unknown Grad-CAM layer \"features\"", error.Message);
        Assert.Contains("\"0\", \"1\", \"2\", \"3\"", error.Message);
    }

    [Fact]
    public void Verify_ModelWhoseForwardDoesNotChainChildren_IsRefused()
    {
        // tiny_cnn_plain has children conv and head, but forward also applies ReLU and flatten between them.
        using var scope = NewDisposeScope();
        using var m = TinyModels.Load("tiny_cnn_plain.pt");
        var split = m.Split("conv");
        var error = Assert.Throws<ExplainException>(() => m.VerifySplit(split, Batch()));
        Assert.Contains("forward_features", error.Message);
    }

    [Fact]
    public void Timm_ModelWithoutExportedMethods_IsRefused()
    {
        using var scope = NewDisposeScope();
        using var m = TinyModels.Load("tiny_cnn_plain.pt");
        var error = Assert.Throws<ExplainException>(() => m.VerifySplit(m.Split("forward_features"), Batch()));
        Assert.Contains("forward_features", error.Message);
    }

    [Fact]
    public void Load_FileThatIsNotTorchScript_SaysSo()
    {
        var path = Path.GetTempFileName();
        File.WriteAllText(path, "not a model");
        var error = Assert.Throws<ExplainException>(() => ExplainCluster.Engine.Models.ExplainModel.Load(path, CPU, "bad.pt"));
        Assert.Contains("not a TorchScript file", error.Message);
    }
}
