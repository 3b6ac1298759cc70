using ExplainCluster.Contracts;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

public class ThreeSiloTests(ThreeSiloCluster three) : IClassFixture<ThreeSiloCluster>
{
    [Fact]
    public async Task Run_ThreeSilos_SpreadsShardsAndMatchesOneSilo()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 900);
        var threeOut = Path.Combine(folder, "three");
        var status = await Jobs.RunAsync(three.Grains, TestPaths.FashionJob(images, labels, threeOut, shardSize: 100), folder);
        Assert.Equal(JobState.Completed, status.State);
        Assert.Equal(9, status.ShardsTotal);
        Assert.Equal(3, status.ShardsPerSilo.Count);
        Assert.All(status.ShardsPerSilo.Values, count => Assert.Equal(3, count));

        // The same job on a one-silo cluster of its own gives the same summary, byte for byte.
        var oneOut = Path.Combine(folder, "one");
        var single = await Jobs.RunOnFreshSiloAsync(TestPaths.FashionJob(images, labels, oneOut, shardSize: 100), folder);
        Assert.Equal(JobState.Completed, single.State);
        Assert.Single(single.ShardsPerSilo);
        Assert.Equal(Jobs.Summary(oneOut), Jobs.Summary(threeOut));
    }
}
