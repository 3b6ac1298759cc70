using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Tests.Infrastructure;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// torchvision architectures as people export them (tools/make_torchvision.py: torchvision's own classes and
/// forward at reduced width), split at a layer and compared with PyTorch's hand-split reference: the layer's
/// activations from a forward hook, the logits, and Grad-CAM from autograd on the eager model.
/// </summary>
public class TorchvisionModelTests(ITestOutputHelper output)
{
    /// <summary>Largest allowed |C# − PyTorch|, relative to the largest magnitude in the reference.</summary>
    private const float Tolerance = 1e-4f;

    public static TheoryData<string, string> Splits => new()
    {
        { "resnet18_scripted.pt", "layer4" },
        { "resnet18_traced.pt", "layer4" },
        { "resnet18_scripted.pt", "layer3.1" },
        { "resnet18_traced.pt", "layer3.1" },
        { "vgg11_scripted.pt", "features.19" },
        { "vgg11_traced.pt", "features.19" },
        { "mobilenet_v2_split.pt", "forward_features" },
    };

    [Theory]
    [MemberData(nameof(Splits))]
    public void Split_TorchvisionModel_MatchesPyTorchActivationsAndLogits(string model, string layer)
    {
        using var scope = NewDisposeScope();
        using var m = Load(model);
        var input = Reference("input.npy");
        var logits = Reference($"{Name(model)}.logits.npy");
        var activations = Reference($"{Name(model)}.{layer}.activations.npy");
        var split = m.Split(layer);
        m.VerifySplit(split, input);
        using var _ = no_grad();
        AssertClose(activations, split.Features(input), $"{model} {layer} features");
        AssertClose(logits, split.Head(activations), $"{model} {layer} head");
        AssertClose(logits, m.Forward(input), $"{model} forward");
    }

    [Theory]
    [MemberData(nameof(Splits))]
    public void GradCam_TorchvisionModel_MatchesPyTorchHandSplit(string model, string layer)
    {
        using var scope = NewDisposeScope();
        using var m = Load(model);
        var expected = Reference($"{Name(model)}.{layer}.cam.npy");
        var map = TinyModels.Attribute(new GradCam(layer), m, m.PrepareInput(Reference("input.npy")));
        Assert.Equal(3, expected.dim());
        AssertClose(expected, tensor(map).view(expected.shape), $"{model} {layer} grad-cam");
        Assert.Contains(map, v => v > 0);
    }

    [Theory]
    [InlineData("resnet18_scripted.pt")]
    [InlineData("resnet18_traced.pt")]
    [InlineData("vgg11_scripted.pt")]
    public void Split_AtPooling_FlattensBeforeTheLinearHead(string model)
    {
        // forward flattens [n, c, 1, 1] (ResNet) or [n, c, 7, 7] (VGG) between avgpool and the Linear head.
        using var scope = NewDisposeScope();
        using var m = Load(model);
        var split = m.Split("avgpool");
        var features = split.Features(Reference("input.npy"));
        Assert.Equal(4, features.dim());
        AssertClose(Reference($"{Name(model)}.logits.npy"), split.Head(features), $"{model} avgpool head");
    }

    [Fact]
    public void Split_InsideResidualBlock_IsRefusedByVerification()
    {
        // BasicBlock adds its input back after conv2, so chaining its children is not its forward.
        using var scope = NewDisposeScope();
        using var m = Load("resnet18_scripted.pt");
        var error = Assert.Throws<ExplainException>(() => m.VerifySplit(m.Split("layer4.1.conv2"), Reference("input.npy")));
        Assert.Contains("\"layer4.1.conv2\"", error.Message);
        Assert.Contains("forward_features", error.Message);
    }

    [Theory]
    [InlineData("layer4.7", "(children of \"layer4\": \"layer4.0\", \"layer4.1\")")]
    [InlineData("layer9", "(this model's children: \"conv1\", \"bn1\", \"relu\", \"maxpool\", \"layer1\", \"layer2\", \"layer3\", \"layer4\", \"avgpool\", \"fc\")")]
    [InlineData("layer4.1.conv2.x", "(children of \"layer4.1.conv2\": none)")]
    public void Split_UnknownDottedName_IsOneLineNamingTheChoices(string layer, string choices)
    {
        using var m = Load("resnet18_traced.pt");
        var error = Assert.Throws<ExplainException>(() => m.Split(layer));
        Assert.StartsWith($"unknown Grad-CAM layer \"{layer}\"", error.Message);
        Assert.Contains(choices, error.Message);
        Assert.DoesNotContain('\n', error.Message);
    }

    private static string Name(string model) => model[..model.LastIndexOf('_')];

    private static ExplainModel Load(string model) => ExplainModel.Load(TestPaths.Fixture($"torchvision/{model}"), CPU, model);

    private static Tensor Reference(string name)
    {
        var bytes = File.ReadAllBytes(TestPaths.Fixture($"torchvision/{name}"));
        var header = NpyFormat.ParseHeader(bytes, name);
        Assert.Equal(ElementType.Float32, header.Type);
        var values = new float[header.Count * header.ItemElements];
        Buffer.BlockCopy(bytes, (int)header.DataOffset, values, 0, values.Length * sizeof(float));
        return tensor(values).view(header.Shape);
    }

    private void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var scale = expected.abs().max().item<float>();
        var error = (actual.detach() - expected).abs().max().item<float>();
        output.WriteLine($"{what}: max |error| {error:G3}, relative to max |reference| {scale:G3}: {error / scale:G3}");
        Assert.True(error <= Tolerance * scale, $"{what}: max |error| {error} exceeds {Tolerance} × {scale}");
    }
}
