using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Cluster;

/// <summary>Two running silos on loopback and the CLI against them, as a user drives them.</summary>
public sealed class TwoSiloCluster : IAsyncLifetime
{
    public RedisServer Redis { get; private set; } = null!;

    public SiloProcess[] Silos { get; private set; } = [];

    /// <summary>The first silo serves the Orleans Dashboard on this port.</summary>
    public int DashboardPort { get; } = Programs.FreePort();

    public async Task InitializeAsync()
    {
        Redis = await RedisServer.StartAsync();
        // Local paths only under the tests' own folder, as a shared cluster would be set up.
        var roots = ("Storage__LocalRoots__0", TestPaths.Root);
        Silos = await Task.WhenAll(
            SiloProcess.StartAsync(Redis.ConnectionString, roots, ("Dashboard__Enabled", "true"), ("Dashboard__Port", DashboardPort.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            SiloProcess.StartAsync(Redis.ConnectionString, roots));
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in Silos) await silo.DisposeAsync();
        await Redis.DisposeAsync();
    }

    public Task<CliResult> ExplainAsync(params string[] args) =>
        CliResult.RunAsync(TimeSpan.FromMinutes(4), [.. args, "--cluster", Redis.ConnectionString]);
}

[Collection(ProcessCollection.Name)]
public class ClusterCliTests(TwoSiloCluster cluster, ClusterData data) : IClassFixture<TwoSiloCluster>, IClassFixture<ClusterData>
{
    [Fact]
    public async Task Submit_TwoJobsOnOneOutputAtOnce_OneRunsTheOtherIsRefused()
    {
        var output = data.NewOutput();
        var submits = await Task.WhenAll(
            cluster.ExplainAsync("submit", data.JobPath, "--out", output, "--id", $"first-{Guid.NewGuid():N}"),
            cluster.ExplainAsync("submit", data.JobPath, "--out", output, "--id", $"second-{Guid.NewGuid():N}"));
        var winner = Assert.Single(submits, s => s.ExitCode == 0);
        var loser = Assert.Single(submits, s => s.ExitCode != 0);
        Assert.Equal(1, loser.ExitCode);
        Assert.Matches("^error: output: .* is in use by job (first|second)-.*, still running; give this job another output$", loser.Stderr.TrimEnd());
        Assert.True((await cluster.ExplainAsync("watch", winner.LastLine)).ExitCode == 0);
        await data.AssertExactlyOnceAsync(output);
    }

    [Theory]
    [InlineData("/etc/passwd", null, "data.inputs: /etc/passwd is outside Storage:LocalRoots")]
    [InlineData(null, "../../../../../../etc/explain-out", "output: /etc/explain-out is outside Storage:LocalRoots")]
    public async Task Submit_OutsideLocalRoots_RefusedInOneLine_AndTheSilosKeepServing(string? inputs, string? output, string expected)
    {
        var folder = TestPaths.NewFolder();
        var job = Path.Combine(folder, "job.json");
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 10);
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(inputs ?? images, labels, output ?? "out"));
        var submit = await cluster.ExplainAsync("submit", job);
        Assert.Equal(1, submit.ExitCode);
        Assert.StartsWith("error: " + expected, submit.Stderr);
        Assert.Single(submit.Stderr.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists("/etc/explain-out"));

        // A symbolic link inside the root that leads out is followed before the check.
        var link = Path.Combine(folder, "etc-link");
        File.CreateSymbolicLink(link, "/etc");
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(images, labels, Path.Combine(link, "explain-out")));
        var viaLink = await cluster.ExplainAsync("submit", job);
        Assert.Equal(1, viaLink.ExitCode);
        Assert.StartsWith("error: output: ", viaLink.Stderr);
        Assert.Contains("is outside Storage:LocalRoots", viaLink.Stderr);

        // Inside the root, the same cluster runs the job.
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(images, labels, "out"));
        var ok = await cluster.ExplainAsync("submit", job, "--id", $"inside-{Guid.NewGuid():N}");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.True((await cluster.ExplainAsync("watch", ok.LastLine)).ExitCode == 0);
    }

    [Fact]
    public async Task Submit_SameIdTwice_IsOneJobAndStatusJsonReportsIt()
    {
        var output = data.NewOutput();
        var first = await cluster.ExplainAsync("submit", data.JobPath, "--id", "twice", "--out", output);
        var second = await cluster.ExplainAsync("submit", data.JobPath, "--id", "twice", "--out", output);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal("twice", first.LastLine);
        Assert.Equal("twice", second.LastLine);

        var watch = await cluster.ExplainAsync("watch", "twice");
        Assert.True(watch.ExitCode == 0, watch.ToString());
        Assert.Contains("completed: 10000 samples in 50 shards", watch.Stdout);
        Assert.Equal("", watch.Stderr);

        var status = await cluster.ExplainAsync("status", "twice", "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        using var json = JsonDocument.Parse(status.Stdout);
        var root = json.RootElement;
        Assert.Equal("completed", root.GetProperty("state").GetString());
        Assert.Equal(50, root.GetProperty("shardsTotal").GetInt32());
        Assert.Equal(50, root.GetProperty("shardsDone").GetInt32());
        Assert.Equal(10000, root.GetProperty("samplesDone").GetInt64());
        Assert.Equal(10000, root.GetProperty("samplesTotal").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
        // Submitted twice, started once: one attempt per shard, both silos used.
        Assert.Equal(50, root.GetProperty("attempts").GetInt32());
        Assert.Equal(2, root.GetProperty("silos").GetArrayLength());
        await data.AssertExactlyOnceAsync(output);

        // A finished job cannot be cancelled.
        var cancel = await cluster.ExplainAsync("cancel", "twice");
        Assert.Equal(1, cancel.ExitCode);
        Assert.Equal("error: job twice had already ended (completed)", cancel.Stderr.Trim());
    }

    [Fact]
    public async Task Submit_BadInputs_FailWithOneLineAndSilosKeepServing()
    {
        // Caught at submit: the model does not exist.
        var folder = TestPaths.NewFolder();
        var missing = Path.Combine(folder, "missing.json");
        await File.WriteAllTextAsync(missing, (await File.ReadAllTextAsync(data.JobPath)).Replace(TestPaths.Sample("model.pt"), Path.Combine(folder, "nope.pt"), StringComparison.Ordinal));
        var submit = await cluster.ExplainAsync("submit", missing, "--out", Path.Combine(folder, "a"));
        Assert.Equal(1, submit.ExitCode);
        Assert.Equal($"error: model {Path.Combine(folder, "nope.pt")} does not exist", submit.Stderr.Trim());

        // Caught in a shard, on a silo: three channels for a one-channel model. A data fault fails the job
        // at once (no retries) and names both shapes.
        var rgb = Path.Combine(folder, "rgb.npy");
        await File.WriteAllBytesAsync(rgb, NpyFormat.Encode(new float[10 * 3 * 28 * 28], [10, 3, 28, 28]));
        var job = Path.Combine(folder, "rgb.json");
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(rgb, null, "out"));
        var bad = await cluster.ExplainAsync("submit", job, "--id", "rgb");
        Assert.True(bad.ExitCode == 0, bad.ToString());
        var watch = await cluster.ExplainAsync("watch", "rgb");
        Assert.Equal(1, watch.ExitCode);
        var error = Assert.Single(watch.Stderr.Trim().Split('\n'));
        Assert.StartsWith("error: input [3, 28, 28] does not fit model", error);
        Assert.Contains("to have 1 channels, but got 3 channels", error);
        var status = await cluster.ExplainAsync("status", "rgb", "--json");
        using (var json = JsonDocument.Parse(status.Stdout))
        {
            Assert.Equal("failed", json.RootElement.GetProperty("state").GetString());
            Assert.Equal(1, json.RootElement.GetProperty("attempts").GetInt32());
        }
        using (var manifest = Jobs.ReadJson(Path.Combine(folder, "out", "manifest.json")))
            Assert.Equal("failed", manifest.RootElement.GetProperty("status").GetString());
        Assert.All(cluster.Silos, s => Assert.DoesNotContain("   at ", s.Log));

        // The silos still serve: an unknown id is a one-line error, and a good job completes.
        var unknown = await cluster.ExplainAsync("status", "no-such-job");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Equal("error: no job no-such-job on this cluster", unknown.Stderr.Trim());
        Assert.All(cluster.Silos, s => Assert.False(s.HasExited));
        var good = await cluster.ExplainAsync("submit", data.JobPath, "--id", "after-bad", "--out", data.NewOutput());
        Assert.Equal(0, (await cluster.ExplainAsync("watch", "after-bad")).ExitCode);
        Assert.Equal(0, good.ExitCode);
    }

    [Fact]
    public async Task Cancel_RunningJob_StopsItAndWatchExitsThree()
    {
        var output = data.NewOutput();
        var submit = await cluster.ExplainAsync("submit", data.JobPath, "--id", "stop-me", "--out", output);
        Assert.True(submit.ExitCode == 0, submit.ToString());
        await data.WaitForShardsAsync(output, 2);

        var cancel = await cluster.ExplainAsync("cancel", "stop-me");
        Assert.True(cancel.ExitCode == 0, cancel.ToString());
        Assert.Equal("stop-me: cancelled", cancel.LastLine);
        var watch = await cluster.ExplainAsync("watch", "stop-me");
        Assert.Equal(3, watch.ExitCode);

        var status = await cluster.ExplainAsync("status", "stop-me", "--json");
        using var json = JsonDocument.Parse(status.Stdout);
        Assert.Equal("cancelled", json.RootElement.GetProperty("state").GetString());
        Assert.True(json.RootElement.GetProperty("shardsDone").GetInt32() < ClusterData.Shards);
        using var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json"));
        Assert.Equal("cancelled", manifest.RootElement.GetProperty("status").GetString());
        Assert.False(File.Exists(Path.Combine(output, "summary.json")));
        // Running shards stop at their next batch and report nothing; nothing of theirs is left.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.False(Directory.Exists(Path.Combine(output, "_attempts")), "staged attempts left after cancel");
        // Cancelling again is harmless.
        var again = await cluster.ExplainAsync("cancel", "stop-me");
        Assert.Equal(0, again.ExitCode);
        Assert.Equal("stop-me: cancelled", again.LastLine);
    }

    [Fact]
    public async Task Watch_CtrlC_StopsWatchingOnly_AndTheJobGoesOnInTheCluster()
    {
        // A job of minutes, so that it still runs after the watch has gone.
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 10000);
        var job = Path.Combine(folder, "ig.json");
        await File.WriteAllTextAsync(job, InterruptData.IntegratedGradientsJob(images, labels));
        var output = Path.Combine(folder, "out");
        var id = $"watched-{Guid.NewGuid():N}";
        var submit = await cluster.ExplainAsync("submit", job, "--id", id, "--out", output);
        Assert.True(submit.ExitCode == 0, submit.ToString());
        await using var watch = CliProcess.Start("watch", id, "--cluster", cluster.Redis.ConnectionString);
        await watch.WaitForStdoutAsync(" shards", TimeSpan.FromMinutes(1));

        watch.Signal(CliProcess.SigInt);
        var result = await watch.WaitForExitAsync(TimeSpan.FromSeconds(30));
        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.Equal($"stopped watching: job {id} goes on in the cluster; explain cancel {id} stops it", result.Stderr.Trim());

        // The job was not touched: it runs, and more of its shards finish after the watch has gone.
        var status = await cluster.ExplainAsync("status", id, "--json");
        int done;
        using (var json = JsonDocument.Parse(status.Stdout))
        {
            Assert.Equal("running", json.RootElement.GetProperty("state").GetString());
            done = json.RootElement.GetProperty("shardsDone").GetInt32();
        }
        await data.WaitForShardsAsync(output, done + 2);
        Assert.Equal(0, (await cluster.ExplainAsync("cancel", id)).ExitCode);
    }

    [Fact]
    public async Task Health_JoinedSilo_IsLiveAndReady()
    {
        using var http = new HttpClient();
        foreach (var silo in cluster.Silos)
        {
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{silo.HealthPort}/health/live")).StatusCode);
            var ready = await http.GetAsync($"http://127.0.0.1:{silo.HealthPort}/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            Assert.Equal("ready", await ready.Content.ReadAsStringAsync());
        }
        // Dashboard:Enabled on the first silo only.
        var page = await http.GetStringAsync($"http://127.0.0.1:{cluster.DashboardPort}/");
        Assert.Contains("<title>Orleans Dashboard</title>", page);
    }

    [Theory]
    [InlineData("Cluster__SiloPort", "abc", "Cluster:SiloPort")]
    [InlineData("Cluster__Provider", "zookeeper", "Cluster:Provider must be \"localhost\" or \"redis\", not \"zookeeper\"")]
    [InlineData("ModelHost__Device", "tpu", "ModelHost:Device must be \"cpu\" or \"cuda\", not \"tpu\"")]
    public async Task Silo_WrongSetting_StopsWithOneLineNamingTheKey(string key, string value, string expected)
    {
        var start = new ProcessStartInfo(Programs.Silo) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["Cluster__Provider"] = "redis";
        start.Environment["Cluster__Redis"] = cluster.Redis.ConnectionString;
        start.Environment["Cluster__SiloPort"] = Programs.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Cluster__GatewayPort"] = Programs.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Health__Port"] = "0";
        start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.Equal(1, process.ExitCode);
        var line = Assert.Single((await stderr).Trim().Split('\n'));
        Assert.StartsWith("error: ", line);
        Assert.Contains(expected, line);
        Assert.DoesNotContain("   at ", await stdout);
    }
}
