using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Models that misbehave (tests/fixtures/bad, made by tools/make_bad_models.py): one line naming the model and what it did.</summary>
public partial class BadInputTests
{
    /// <summary>
    /// A saliency job of 20 float32 images [28, 28], no preprocessing, on fixture bad/<paramref name="model"/>;
    /// <paramref name="poke"/> sets pixel 0 of chosen samples. Returns the one-line error.
    /// </summary>
    private async Task<string> RunBadModelAsync(string model, params (int Sample, float Value)[] poke)
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var data = new float[20 * 784];
            for (var i = 0; i < data.Length; i++) data[i] = (i % 97) / 97f;
            foreach (var (sample, value) in poke) data[sample * 784] = value;
            var inputs = Path.Combine(f, "x.npy");
            await File.WriteAllBytesAsync(inputs, NpyFormat.Encode(data, [20, 28, 28]));
            return $$"""
                { "model": { "uri": "{{TestPaths.Fixture(Path.Combine("bad", model))}}" }, "data": { "inputs": "{{inputs}}" },
                  "methods": { "saliency": {} }, "shardSize": 8, "batchSize": 4, "output": "{{Path.Combine(f, "out")}}" }
                """;
        });
        Assert.DoesNotContain("Exception", status.Error);
        Assert.DoesNotContain("Traceback", status.Error);
        return status.Error!;
    }

    [Fact]
    public async Task Run_ModelReturningTuple_SaysNotOneTensor()
    {
        var error = await RunBadModelAsync("tuple_output.pt");
        Assert.Matches(@"^model .*tuple_output\.pt returned a tuple of 2 values from forward; expected one tensor of logits \[batch, classes\]$", error);
    }

    [Fact]
    public async Task Run_ModelReturning3dOutput_NamesTheShape()
    {
        var error = await RunBadModelAsync("output_3d.pt");
        Assert.Matches(@"^model .*output_3d\.pt returned shape \[4, 10, 2\] from forward; expected logits \[batch, classes\]$", error);
    }

    [Fact]
    public async Task Run_ModelWithNaNLogits_NamesTheSample()
    {
        var error = await RunBadModelAsync("nonfinite_logits.pt", (13, -1f), (14, 5000f));
        Assert.Matches(@"^model .*nonfinite_logits\.pt gave NaN or Inf logits for sample 13$", error);
    }

    [Fact]
    public async Task Run_ModelWithInfLogits_NamesTheSample()
    {
        var error = await RunBadModelAsync("nonfinite_logits.pt", (6, 5000f));
        Assert.Matches(@"^model .*nonfinite_logits\.pt gave NaN or Inf logits for sample 6$", error);
    }

    [Fact]
    public async Task Run_ModelThatRaisesInForward_GivesItsMessage()
    {
        var error = await RunBadModelAsync("raises_in_forward.pt");
        Assert.Matches(@"^model .*raises_in_forward\.pt raised in forward: this model refuses every batch$", error);
    }

    [Theory]
    [InlineData("state_dict.pt")]
    [InlineData("plain_zip.pt")]
    public async Task Run_ZipThatIsNotTorchScript_SaysSo(string model)
    {
        var error = await RunBadModelAsync(model);
        Assert.Matches($@"^model .*{model.Replace(".", "\\.")} is not a TorchScript file that torch\.jit\.load can read \(.*\)$", error);
    }

    [Fact]
    public async Task Run_GradCamLayerWithPathTraversal_IsAnUnknownLayer()
    {
        var (status, _) = await RunBadAsync(f => GoodJobAsync(f, layer: "../../../etc/passwd"));
        Assert.StartsWith("unknown Grad-CAM layer \"../../../etc/passwd\"", status.Error);
        Assert.False(Directory.Exists(Path.GetFullPath(Path.Combine(TestPaths.NewFolder(), "..", "..", "..", "etc", "passwd"))));
    }

    [Fact]
    public async Task Run_OutputThatIsAnExistingFile_FailsWithoutTouchingIt()
    {
        string? file = null;
        var (status, _) = await RunBadAsync(async f =>
        {
            file = Path.Combine(f, "results.txt");
            await File.WriteAllTextAsync(file, "keep me");
            return await GoodJobAsync(f, output: file);
        });
        Assert.Matches(@"^output location .*results\.txt cannot be written", status.Error);
        Assert.Equal("keep me", await File.ReadAllTextAsync(file!));
    }
}
