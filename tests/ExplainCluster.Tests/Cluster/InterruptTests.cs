using System.Diagnostics;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Cluster;

/// <summary>
/// <c>explain run</c> stopped as a user stops it: Ctrl-C (SIGINT) or SIGTERM mid-job cancels the job and exits 130 or 143,
/// a second Ctrl-C exits at once; and a full disk under the output fails the job in one line, without retries.
/// </summary>
[Collection(ProcessCollection.Name)]
public class InterruptTests(InterruptData data) : IClassFixture<InterruptData>
{
    [Theory]
    [InlineData(CliProcess.SigInt, 130, "Ctrl-C")]
    [InlineData(CliProcess.SigTerm, 143, "SIGTERM")]
    public async Task Run_InterruptedMidJob_CancelsTheJobAndExitsWithinTenSeconds(int signal, int exitCode, string name)
    {
        var output = data.NewOutput();
        await using var run = CliProcess.Start("run", data.JobPath, "--out", output);
        await InterruptData.WaitForStagedShardAsync(output, run);

        var clock = Stopwatch.StartNew();
        run.Signal(signal);
        var result = await run.WaitForExitAsync(TimeSpan.FromMinutes(1));
        var exited = clock.Elapsed;

        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.True(exited < TimeSpan.FromSeconds(10), $"exited {exited.TotalSeconds:0.0} s after {name}");
        var line = Assert.Single(result.Stderr.TrimEnd().Split('\n'));
        Assert.Matches($"^cancelled by {name} after [0-9]+ of 20 shards; staging removed, manifest.json says cancelled$", line);
        using (var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json")))
            Assert.Equal("cancelled", manifest.RootElement.GetProperty("status").GetString());
        Assert.False(Directory.Exists(Path.Combine(output, "_attempts")), "staged attempts left after the interrupt");
        Assert.False(File.Exists(Path.Combine(output, "summary.json")));
    }

    [Fact]
    public async Task Run_SecondCtrlC_ExitsAtOnce_AndTheNextRunTakesTheOutputOver()
    {
        var output = data.NewOutput();
        await using (var run = CliProcess.Start("run", data.JobPath, "--out", output))
        {
            await InterruptData.WaitForStagedShardAsync(output, run);
            run.Signal(CliProcess.SigInt);
            await Task.Delay(50); // the first is being handled: the job's running batches are ending
            var clock = Stopwatch.StartNew();
            run.Signal(CliProcess.SigInt);
            var result = await run.WaitForExitAsync(TimeSpan.FromMinutes(1));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"exited {clock.Elapsed.TotalSeconds:0.0} s after the second Ctrl-C");
            Assert.True(result.ExitCode == 130, result.ToString());
            Assert.Equal("interrupted again: stopping at once; an output left running is taken over by the next run", result.Stderr.TrimEnd().Split('\n')[^1]);
        }

        // The output was left as it stood (a running manifest of a job no cluster knows): the next run takes it over.
        var next = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", data.SmallJobPath, "--out", output);
        Assert.True(next.ExitCode == 0, next.ToString());
        using var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json"));
        Assert.Equal("completed", manifest.RootElement.GetProperty("status").GetString());
        Assert.Equal(100, manifest.RootElement.GetProperty("samples").GetInt64());
        Assert.False(Directory.Exists(Path.Combine(output, "_attempts")));
    }

    [SkippableFact]
    public async Task Run_OutputOnAFullDisk_FailsAtOnceInOneLine_WithoutRetries_AndLeavesNoStaging()
    {
        var (disk, why) = SmallDisk.Mount(3);
        Skip.If(disk is null, why);
        using (disk)
        {
            // A shard's saliency maps alone are 1000 × 784 float32, 3.1 MB: the first shard to write fills the 3 MB disk.
            var output = Path.Combine(disk!.Path, "out");
            var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", data.DiskJobPath, "--out", output);

            Assert.True(run.ExitCode == 1, run.ToString());
            // One line, naming the output and the cause in words: no retry's warning before it, no exception type.
            var line = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
            Assert.Matches($"^error: output {System.Text.RegularExpressions.Regex.Escape(output)}: no space left on device \\(writing shard [0-9]+\\)$", line);
            using (var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json")))
            {
                Assert.Equal("failed", manifest.RootElement.GetProperty("status").GetString());
                Assert.Equal(line["error: ".Length..], manifest.RootElement.GetProperty("error").GetString());
            }
            // Nothing of the attempts is left on the full disk, not even half-written files: only the manifest.
            Assert.Equal(["manifest.json"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
        }
    }
}

/// <summary>
/// The jobs: integrated gradients (16 steps) with the demo model on the 10,000 Fashion-MNIST test images in 20 shards, in
/// batches of 64, so that a running batch ends within a second or so (the test measures the CLI's stop, not a batch);
/// a small job on 100 of them; and three gradient methods on the 10,000 in shards of 1,000, for the full disk.
/// </summary>
public sealed class InterruptData : IAsyncLifetime
{
    public string Folder { get; } = TestPaths.NewFolder();

    public string JobPath => Path.Combine(Folder, "ig.json");

    public string SmallJobPath => Path.Combine(Folder, "small", "job.json");

    public string DiskJobPath => Path.Combine(Folder, "disk.json");

    public async Task InitializeAsync()
    {
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(Folder, 10000);
        await File.WriteAllTextAsync(JobPath, IntegratedGradientsJob(images, labels));
        await File.WriteAllTextAsync(DiskJobPath, TestPaths.FashionJob(images, labels, "out", shardSize: 1000));
        var small = Directory.CreateDirectory(Path.Combine(Folder, "small")).FullName;
        var (smallImages, smallLabels) = await TestPaths.FashionMnistNpyAsync(small, 100);
        await File.WriteAllTextAsync(SmallJobPath, TestPaths.FashionJob(smallImages, smallLabels, "out", shardSize: 50));
    }

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Integrated gradients (16 steps) on the 10,000 images in 20 shards, in batches of 64: a job of minutes on two cores.</summary>
    public static string IntegratedGradientsJob(string images, string labels)
    {
        var job = TestPaths.FashionJob(images, labels, "out", shardSize: 500, extra: ", \"batchSize\": 64")
            .Replace("\"saliency\": {}, \"grad-x-input\": {}, \"grad-cam\": { \"layer\": \"10\" }", "\"integrated-gradients\": { \"steps\": 16 }", StringComparison.Ordinal);
        Assert.Contains("integrated-gradients", job);
        return job;
    }

    public string NewOutput() => Path.Combine(Folder, Guid.NewGuid().ToString("N"));

    /// <summary>Waits until a shard has staged its partial: the job is under way, with shards running.</summary>
    public static async Task WaitForStagedShardAsync(string output, CliProcess run)
    {
        var staging = Path.Combine(output, "_attempts");
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!(Directory.Exists(staging) && Directory.EnumerateFiles(staging, "partial.bin", SearchOption.AllDirectories).Any()))
        {
            if (run.HasExited) throw new InvalidOperationException($"explain exited before a shard was staged:\n{run.Stdout}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("no shard was staged in 2 minutes");
            await Task.Delay(50);
        }
    }
}
