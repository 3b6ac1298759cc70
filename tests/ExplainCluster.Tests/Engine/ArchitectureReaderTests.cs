using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Report;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Engine;

/// <summary>The model's architecture as the manifest records it, on fixtures whose modules and sizes are known by hand; and how the report shows locations.</summary>
public class ArchitectureReaderTests
{
    [Fact]
    public void Read_TinyLinear_OneLinearOf15Parameters()
    {
        // nn.Sequential(nn.Linear(4, 3)): 4·3 weights + 3 biases.
        var architecture = ArchitectureReader.Read(TestPaths.Fixture("tiny_linear.pt"), "tiny_linear.pt");

        Assert.Equal("TorchScript", architecture.Format);
        Assert.Equal(15, architecture.Parameters);
        Assert.Equal([new ModelLayer("", "Sequential", 0), new ModelLayer("0", "Linear", 15)], architecture.Layers);
    }

    [Fact]
    public void Read_UserClass_IsNamedQualified_AndTorchsByShortName()
    {
        // TimmStyle(conv = Conv2d(1, 2, 1): 2 + 2, head = Linear(18, 2): 36 + 2), a class of the script, not PyTorch's.
        var architecture = ArchitectureReader.Read(TestPaths.Fixture("tiny_cnn_timm.pt"), "tiny_cnn_timm.pt");

        Assert.Equal(42, architecture.Parameters);
        Assert.Equal([new ModelLayer("", "__torch__.TimmStyle", 0), new ModelLayer("conv", "Conv2d", 4), new ModelLayer("head", "Linear", 38)], architecture.Layers);
    }

    [Fact]
    public void Read_NotTorchScript_OneLineNamingTheModel()
    {
        var path = Path.Combine(TestPaths.NewFolder(), "model.pt");
        File.WriteAllText(path, "not a model");

        var e = Assert.Throws<ExplainCluster.Engine.ExplainException>(() => ArchitectureReader.Read(path, "models/model.pt"));
        Assert.StartsWith("model models/model.pt is not a TorchScript file", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("model.pt", "model.pt")]
    [InlineData("../models/model.pt", "../models/model.pt")]
    [InlineData("/home/someone/models/model.pt", "…/model.pt")]
    [InlineData("https://account.blob.core.windows.net/models/model.pt?sv=2024&sig=secret", "https://account.blob.core.windows.net/models/model.pt?…redacted")]
    public void Location_AsTheJobGaveIt_WithoutMachinePathsOrSecrets(string given, string shown) =>
        Assert.Equal(shown, JobFileValues.Location(given));
}
