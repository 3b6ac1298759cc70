namespace ExplainCluster.Tests.Grains;

/// <summary>Method options that only the data can judge: failed with one line, nothing marked completed.</summary>
public partial class BadInputTests
{
    [Fact]
    public async Task Run_OcclusionWindowThatDoesNotFitTheSamples_NamesBothShapes()
    {
        var (status, _) = await RunBadAsync(async f => (await GoodJobAsync(f))
            .Replace("\"grad-cam\": { \"layer\": \"10\" }", "\"occlusion\": { \"window\": [2, 7, 7] }", StringComparison.Ordinal));
        Assert.Contains("occlusion window [2, 7, 7] exceeds a sample's shape [1, 28, 28]", status.Error);
    }
}
