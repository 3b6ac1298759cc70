using ExplainCluster.Contracts;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Tests.Engine;
using ExplainCluster.Tests.Infrastructure;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// Param-grads jobs on models built to break the code reader (tests/fixtures/paramgrad_break): the job completes,
/// the manifest says per layer whether it was vectorised or why it looped, and the norms are the per-sample loop's.
/// </summary>
public class ParamGradsBreakageJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Theory]
    // Before: "shard 0 failed: IndexOutOfRangeException" from an unused code file; now read past, all vectorised.
    [InlineData("junk_code.pt", "vvvv", null)]
    // Nothing of its code can be read: every layer loops, the manifest says why.
    [InlineData("unparsable.pt", "ll", "the archive's code cannot be read")]
    // A user class named Linear: that layer loops, the other is vectorised.
    [InlineData("user_linear.pt", "lv", "its own parameters are used by its code")]
    public async Task Run_ModelBuiltToBreakTheReader_CompletesWithTheLoopsNormsAndSaysHowEachLayerRan(string model, string vectorised, string? reason)
    {
        const int count = 20;
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, count);
        var path = TestPaths.Fixture(Path.Combine("paramgrad_break", model));
        var output = Path.Combine(folder, "out");
        var status = await Jobs.RunAsync(one.Grains, $$"""
            {
              "model": { "uri": "{{path}}" },
              "data": { "inputs": "{{images}}", "labels": "{{labels}}", "preprocess": { "scale": 0.00392156862745098, "mean": [0.286], "std": [0.353] } },
              "methods": { "param-grads": {} },
              "shardSize": 8, "batchSize": 4,
              "output": "{{output}}"
            }
            """, folder);
        Assert.True(status.State == JobState.Completed, status.Error);

        using var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json"));
        var layers = manifest.RootElement.GetProperty("paramGradLayers").EnumerateArray()
            .Select(l => (Name: l.GetProperty("name").GetString()!, Vectorised: l.GetProperty("vectorised").GetBoolean(), How: l.GetProperty("how").GetString()!)).ToArray();
        Assert.Equal(vectorised, string.Concat(layers.Select(l => l.Vectorised ? 'v' : 'l')));
        foreach (var l in layers.Where(l => !l.Vectorised)) Assert.Contains(reason!, l.How);

        // The norms of the first shard against the loop, the cross-entropy taken against the labels.
        var norms = await NpyFiles.ReadFloatsAsync(Path.Combine(output, "attributions", "param-grads", "part-00000.npy"));
        var (pixels, targets) = (await NpyFiles.ReadFloatsAsync(images), await NpyFiles.ReadIntegersAsync(labels));
        using var scope = NewDisposeScope();
        var x = (tensor(pixels[..(8 * 784)], [8, 1, 28, 28]) / 255.0f - 0.286f) / 0.353f;
        var (loop, _) = ParamGradTests.Loop(path, x, tensor(targets[..8]), [.. layers.Select(l => new ParameterLayer(l.Name, 0, true, ""))]);
        var expected = loop.sqrt().data<double>().ToArray();
        Assert.Equal(8 * layers.Length, norms.Length);
        for (var k = 0; k < expected.Length; k++)
            Assert.True(Math.Abs(expected[k] - norms[k]) <= 1e-4 * Math.Max(expected[k], 1e-3), $"entry {k}: loop {expected[k]}, job {norms[k]}");
    }
}
