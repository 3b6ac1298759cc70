using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Tests.Engine.Trust;

public class TrustOptionsTests
{
    private static string Job(string trust) => $$"""
        { "model": { "uri": "m.pt" }, "data": { "inputs": "x.npy" }, "methods": { "saliency": {}, "param-grads": {} }, "output": "out", "trust": {{trust}} }
        """;

    [Fact]
    public void EmptyBlock_TurnsEveryMetricOnWithItsDefaults()
    {
        var spec = JobFile.Parse(Job("{}"), "/tmp").Trust!;
        Assert.True(spec.Complexity && spec.RandomLogit);
        Assert.Equal((0.2, 10), (spec.Sensitivity!.Radius, spec.Sensitivity.Samples));
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80, 90], spec.Road!.Percentiles);
        Assert.Equal(0.01, spec.Road.Noise);
        Assert.Equal(1, spec.SubsetFraction);
    }

    [Fact]
    public void Settings_AreRead()
    {
        var spec = JobFile.Parse(Job("""{ "seed": 4, "subset": { "fraction": 0.25, "seed": 2 }, "sensitivity": { "radius": 0.1, "samples": 3 }, "randomLogit": false, "road": false, "methods": ["saliency"] }"""), "/tmp").Trust!;
        Assert.Equal((4, 0.25, 2), (spec.Seed, spec.SubsetFraction, spec.SubsetSeed));
        Assert.Equal((0.1, 3), (spec.Sensitivity!.Radius, spec.Sensitivity.Samples));
        Assert.False(spec.RandomLogit);
        Assert.Null(spec.Road);
        Assert.Equal(["saliency"], spec.Methods!);
    }

    [Theory]
    [InlineData("""{ "noise": 1 }""", "trust.noise: unknown field")]
    [InlineData("""{ "sensitivity": { "samples": 0 } }""", "trust.sensitivity.samples: expected an integer from 1 to 10000")]
    [InlineData("""{ "sensitivity": { "radius": 0.1, "steps": 3 } }""", "trust.sensitivity.steps: unknown field")]
    [InlineData("""{ "road": { "percentiles": [0, 50] } }""", "trust.road.percentiles: expected a list of whole percentages from 1 to 99")]
    [InlineData("""{ "road": 3 }""", "trust.road: expected an object, true or false")]
    [InlineData("""{ "complexity": "yes" }""", "trust.complexity: expected true or false")]
    [InlineData("""{ "methods": ["lime"] }""", "trust.methods: \"lime\" is not a method of this job (saliency, param-grads)")]
    [InlineData("""{ "methods": ["param-grads"] }""", "trust.methods: \"param-grads\" has no maps over the pixels to compare")]
    [InlineData("""{ "subset": { "fraction": 2 } }""", "trust.subset.fraction: expected a number in (0, 1]")]
    [InlineData("[]", "trust: expected an object")]
    public void BadOption_FailsInOneLineNamingTheField(string trust, string message)
    {
        var e = Assert.Throws<ExplainException>(() => JobFile.Parse(Job(trust), "/tmp"));
        Assert.Equal(message, e.Message);
    }
}
