using ExplainCluster.Grains.Hosting;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Cluster;

/// <summary>A silo process with Cluster:SubmitToken: the CLI gets in with the token from its environment or a file, and only then.</summary>
[Collection(ProcessCollection.Name)]
public class SubmitTokenTests
{
    private const string Token = "correct-horse-battery-staple";

    [Fact]
    public async Task Cluster_WithSubmitToken_RefusesCallsWithoutIt_RunsJobsWithIt()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var silo = await SiloProcess.StartAsync(redis.ConnectionString, ("Cluster__SubmitToken", Token));
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 300);
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(images, labels, "out", shardSize: 100));

        Task<CliResult> Explain(Dictionary<string, string> environment, params string[] args) =>
            CliResult.RunAsync(TimeSpan.FromMinutes(2), environment, [.. args, "--cluster", redis.ConnectionString]);
        void AssertRefused(CliResult result)
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Equal($"error: {SubmitToken.Refusal}", result.Stderr.TrimEnd());
        }

        // No token, a wrong one: refused in one line, for submit and for status alike.
        AssertRefused(await Explain([], "submit", job, "--id", "guarded"));
        AssertRefused(await Explain(new() { [SubmitToken.Variable] = "wrong" }, "submit", job, "--id", "guarded"));
        AssertRefused(await Explain([], "status", "guarded"));
        Assert.False(Directory.Exists(Path.Combine(folder, "out")), "a refused submit started the job");

        // The token from a file (as a mounted Secret gives it): the job runs, its shards report back through the token the silo stamps.
        var tokenFile = Path.Combine(folder, "token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");
        var withFile = new Dictionary<string, string> { [SubmitToken.FileVariable] = tokenFile };
        var submit = await Explain(withFile, "submit", job, "--id", "guarded");
        Assert.True(submit.ExitCode == 0, submit.ToString());
        var watch = await Explain(withFile, "watch", "guarded");
        Assert.True(watch.ExitCode == 0, watch + silo.Log);
        Assert.Contains("completed: 300 samples in 3 shards", watch.Stdout);
        AssertRefused(await Explain([], "cancel", "guarded"));
    }
}
