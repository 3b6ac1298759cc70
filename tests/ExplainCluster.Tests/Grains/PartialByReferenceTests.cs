using ExplainCluster.Contracts;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

public class PartialByReferenceTests(ByReferenceCluster byReference) : IClassFixture<ByReferenceCluster>
{
    [Fact]
    public async Task Run_PartialsByReference_SameSummaryAsInline()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 500);
        var referenced = Path.Combine(folder, "by-reference");
        var status = await Jobs.RunAsync(byReference.Grains, TestPaths.FashionJob(images, labels, referenced, shardSize: 100), folder);
        Assert.True(status.State == JobState.Completed, status.Error);
        Assert.Equal(500, status.SamplesDone);

        // The same job with partials inline in the messages (the default limit, 1 MiB, is far above these).
        var inline = Path.Combine(folder, "inline");
        Assert.Equal(JobState.Completed, (await Jobs.RunOnFreshSiloAsync(TestPaths.FashionJob(images, labels, inline, shardSize: 100), folder)).State);
        Assert.Equal(Jobs.Summary(inline), Jobs.Summary(referenced));
    }

    [Fact]
    public void Reference_KeepsWhoAndHowManyOnly()
    {
        var methods = MethodsFeature.Instance.Pack([new MethodPartial("saliency", [1, 2, 2], [60, 40], new double[8], new double[8])]);
        var partial = new ShardPartial(3, 100, "silo", 1.5, [60, 40], [methods], 2);
        // The predicted counts, and the feature's name and bytes: "saliency", then (length, values) for 3 + 2 + 8 + 8 numbers.
        Assert.Equal(8 * 2 + "methods".Length + 4 + 1 + "saliency".Length + 4 * 4 + 4 * 3 + 8 * (2 + 8 + 8), partial.ApproxBytes);
        var reference = partial.Reference();
        Assert.True(reference.Staged);
        Assert.Equal((3, 100L, 2, "silo"), (reference.ShardIndex, reference.Count, reference.Attempt, reference.Silo));
        Assert.Equal(0, reference.ApproxBytes);
    }
}
