using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Cluster;

/// <summary>
/// A cluster's Redis that is not there (a typo in --cluster, or not up yet): the CLI says so in one line, a
/// starting silo waits for it up to Cluster:ConnectTimeout, and nothing aborts with a stack trace.
/// </summary>
[Collection(ProcessCollection.Name)]
public class RedisUnreachableTests
{
    [Fact]
    public async Task Cli_ClosedPort_FailsWithOneLineInUnderFifteenSeconds()
    {
        var watch = Stopwatch.StartNew();
        var result = await CliResult.RunAsync(TimeSpan.FromSeconds(60), "status", "abc", "--cluster", "127.0.0.1:1");
        watch.Stop();
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("error: cannot reach the cluster's Redis at 127.0.0.1:1 (connection refused); check --cluster or Cluster__Redis", result.Stderr.TrimEnd());
        Assert.Equal("", result.Stdout);
        Assert.DoesNotContain("Exception", result.Stderr);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task Cli_ClusterWithoutPort_FailsWithOneLineNamingIt()
    {
        // "127.0.0.1:" (a port lost from a shell variable) parses to no server; it was a stack trace from StackExchange.Redis.
        var result = await CliResult.RunAsync(TimeSpan.FromSeconds(60), "status", "abc", "--cluster", "127.0.0.1:");
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("error: --cluster names no server: \"127.0.0.1:\" (a connection string such as 127.0.0.1:6379)", result.Stderr.TrimEnd());
        Assert.Equal("", result.Stdout);
    }

    [Fact]
    public async Task Silo_ClosedPort_ExitsOneAfterItsConnectTimeoutWithOneLine()
    {
        var closed = ClosedPort();
        var watch = Stopwatch.StartNew();
        await using var silo = SiloProcess.Launch(closed, ("Cluster__ConnectTimeout", "00:00:03"));
        await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        watch.Stop();

        Assert.True(silo.ExitCode == 1, silo.Log);
        var line = Assert.Single(silo.Errors);
        Assert.Equal($"error: Cluster:Redis: {closed} did not answer within 3 s (connection refused); check Cluster:Redis, or give Redis longer with Cluster:ConnectTimeout", line);
        // It waited its timeout, and said so once (a line per 10 s at most), without a stack trace.
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(3), $"exited after {watch.Elapsed}");
        Assert.Single(silo.Lines, l => l.Contains($"Waiting for Cluster:Redis at {closed} (connection refused)", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", silo.Log);
        Assert.DoesNotContain("Exception", silo.Log);
    }

    [Fact]
    public async Task Silo_StartedBeforeItsRedis_JoinsWhenRedisComesUpAndRunsAJob()
    {
        var port = Programs.FreePort();
        var redis = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        await using var silo = SiloProcess.Launch(redis, ("Cluster__ConnectTimeout", "00:01:00"), ("Storage__LocalRoots__0", TestPaths.Root));
        await silo.WaitForLineAsync($"Waiting for Cluster:Redis at {redis}", TimeSpan.FromSeconds(60));

        // While it waits: alive, not ready, and the readiness says what for.
        using var http = new HttpClient();
        await silo.HealthPortOpenAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{silo.HealthPort}/health/live")).StatusCode);
        var waiting = await http.GetAsync($"http://127.0.0.1:{silo.HealthPort}/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, waiting.StatusCode);
        Assert.Equal($"waiting for Cluster:Redis at {redis} (connection refused)", await waiting.Content.ReadAsStringAsync());

        await using var server = await RedisServer.StartAsync(port);
        await silo.JoinedAsync(TimeSpan.FromSeconds(90));
        var ready = await http.GetAsync($"http://127.0.0.1:{silo.HealthPort}/health/ready");
        Assert.Equal("ready", await ready.Content.ReadAsStringAsync());

        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 10);
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, TestPaths.FashionJob(images, labels, "out"));
        var submit = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "submit", job, "--id", $"late-redis-{Guid.NewGuid():N}", "--cluster", redis);
        Assert.True(submit.ExitCode == 0, submit.ToString());
        var done = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "watch", submit.LastLine, "--cluster", redis);
        Assert.True(done.ExitCode == 0, done.ToString());
        Assert.Contains("completed: 10 samples in 1 shards", done.Stdout);
        Assert.True(silo.Holds(submit.LastLine), silo.Log);
        Assert.DoesNotContain("   at ", silo.Log);
    }

    [Fact]
    public async Task Silo_StoppedWhileWaitingForRedis_ExitsZeroQuietly()
    {
        var closed = ClosedPort();
        await using var silo = SiloProcess.Launch(closed, ("Cluster__ConnectTimeout", "00:01:00"));
        await silo.WaitForLineAsync($"Waiting for Cluster:Redis at {closed}", TimeSpan.FromSeconds(60));
        var took = await silo.TerminateAsync();
        Assert.True(silo.ExitCode == 0, silo.Log);
        Assert.Empty(silo.Errors);
        Assert.True(took < TimeSpan.FromSeconds(10), $"took {took} to stop");
    }

    [Theory]
    [InlineData("Cluster__SiloPort", "Cluster:SiloPort: port {0} on 127.0.0.1 is in use by another process")]
    [InlineData("Health__Port", "Health:Port: port {0} on 0.0.0.0 is in use by another process")]
    public async Task Silo_PortInUse_ExitsOneWithOneLineNamingTheKey(string key, string expected)
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        await using var silo = SiloProcess.Launch(ClosedPort(), (key, port));
        await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(silo.ExitCode == 1, silo.Log);
        Assert.Equal("error: " + string.Format(CultureInfo.InvariantCulture, expected, port), Assert.Single(silo.Errors));
        Assert.DoesNotContain("   at ", silo.Log);
    }

    [Fact]
    public async Task Silo_EmptyTokenFile_ExitsOneWithOneLine()
    {
        var token = Path.Combine(TestPaths.NewFolder(), "token");
        await File.WriteAllTextAsync(token, "\n");
        await using var silo = SiloProcess.Launch(ClosedPort(), ("Cluster__SubmitTokenFile", token));
        await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(silo.ExitCode == 1, silo.Log);
        Assert.Equal($"error: Cluster:SubmitTokenFile: {token} is empty", Assert.Single(silo.Errors));
        Assert.DoesNotContain("   at ", silo.Log);
    }

    /// <summary>A loopback address nothing listens on.</summary>
    private static string ClosedPort() => $"127.0.0.1:{Programs.FreePort().ToString(CultureInfo.InvariantCulture)}";
}
