using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>One job per output: never two at once, and a completed output is replaced only when the job says so.</summary>
public class OutputClaimTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public async Task Start_TwoJobsOnOneNewOutputAtOnce_ExactlyOneGetsIt()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 200);
        var output = Path.Combine(folder, "out");
        var job = JobFile.Parse(TestPaths.FashionJob(images, labels, output, shardSize: 100), folder);
        var ids = Enumerable.Range(0, 6).Select(i => $"race-{i}-{Guid.NewGuid():N}").ToArray();
        var starts = await Task.WhenAll(ids.Select(id => one.Grains.GetGrain<IJobGrain>(id).StartAsync(job)));
        var winner = Assert.Single(starts, s => s.State != JobState.Failed);
        Assert.All(starts.Where(s => s != winner), s => Assert.Matches("^output: .* is in use by job race-.*, still running; give this job another output$", s.Error!));
        var done = await ExplainCluster.Client.JobRunner.FollowAsync(one.Grains, ids[Array.IndexOf(starts, winner)], winner);
        Assert.Equal(JobState.Completed, done.State);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(output, "samples")).Length);
    }

    [Fact]
    public async Task Start_OnAnOutputLeftRunningByAJobTheClusterDoesNotKnow_TakesItOver()
    {
        // What a killed `explain run` leaves: a manifest saying "running", for a job no silo holds any more.
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 100);
        var output = Path.Combine(folder, "out");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output), folder)).State);
        var manifest = Path.Combine(output, "manifest.json");
        var text = await File.ReadAllTextAsync(manifest);
        var id = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("jobId").GetString()!;
        await File.WriteAllTextAsync(manifest, text.Replace("\"completed\"", "\"running\"").Replace(id, "ghost-of-a-killed-run"));
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output), folder)).State);
    }

    [Fact]
    public async Task Start_OnACompletedOutput_RefusedUnlessOverwrite_ThenReplacesItsFiles()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var output = Path.Combine(folder, "out");
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output, shardSize: 100), folder)).State);
        Assert.True(File.Exists(Path.Combine(output, "samples", "part-00002.parquet")));

        var again = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output, shardSize: 300), folder);
        Assert.Equal(JobState.Failed, again.State);
        Assert.Matches("^output: .* holds the completed job .*; set \"overwrite\": true in the job file to replace it$", again.Error!);
        Assert.True(File.Exists(Path.Combine(output, "samples", "part-00002.parquet")), "a refused job touched the output");

        var replaced = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, output, shardSize: 300, extra: ", \"overwrite\": true"), folder);
        Assert.Equal(JobState.Completed, replaced.State);
        // The new job's one shard, and none of the old job's three.
        Assert.Equal(["part-00000.parquet"], Directory.GetFiles(Path.Combine(output, "samples")).Select(Path.GetFileName));
    }
}
