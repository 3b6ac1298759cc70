using ExplainCluster.Engine.Report.Sections;

namespace ExplainCluster.Tests.Engine;

/// <summary>The explained rows' waterfalls: which contributions a waterfall shows, and what it pools.</summary>
public class WaterfallStepsTests
{
    [Fact]
    public void Steps_ShowTheEightLargestByMagnitude_ThenPoolTheRest_SoTheyStillSumToTheRow()
    {
        string[] features = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"];
        double[] values = [0.1, -3, 0.25, 2, -0.05, 1, -1, 0.5, 0.75, -0.2, 0.3];
        var steps = FeatureImportanceSection.Steps(features, values);
        Assert.Equal(["b", "d", "f", "g", "i", "h", "k", "c", "3 other features"], steps.Select(s => s.Name));
        Assert.Equal(0.1 - 0.05 - 0.2, steps[^1].Value, 12);
        Assert.Equal(values.Sum(), steps.Sum(s => s.Value), 12);
    }

    [Fact]
    public void Steps_OfNineFeatures_PoolNothing_AndTiesKeepTheTableOrder()
    {
        string[] features = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        double[] values = [1, -1, 1, 0, 0, 0, 0, 0, 2];
        Assert.Equal(["i", "a", "b", "c", "d", "e", "f", "g", "h"], FeatureImportanceSection.Steps(features, values).Select(s => s.Name));
    }
}
