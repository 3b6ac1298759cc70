using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Cluster;

/// <summary>
/// Real processes on loopback: the silo that holds a job is killed (SIGKILL) while the job is in its selection pass
/// (stratified samples) or its post pass (pruning's curve, maximisation, the embedding's projection). The job
/// reactivates elsewhere, carries on (the selection's candidates are in its record; the post pass is planned again)
/// and completes with the same summary, byte for byte, as a fault-free run on one embedded silo. Likewise in its compare
/// pass (its comparison with a baseline run): the ranges it had compared are compared again, to the same comparison.
/// </summary>
[Collection(ProcessCollection.Name)]
public class PostPassLossTests
{
    [Fact]
    public async Task Submit_KillSiloHoldingTheJobInItsSelectionPass_ResumesItAndMatchesOneSiloRun() =>
        await KillHolderAndCompareAsync("select", 4000, ", \"sanity\": { \"samples\": 40, \"methods\": [\"saliency\"] }", output =>
        {
            // The job starts in its selection pass (nothing is staged until it ends): its silo goes at once.
            Assert.False(Directory.Exists(Path.Combine(output, "_attempts"))
                && Directory.EnumerateFiles(Path.Combine(output, "_attempts"), "partial.bin", SearchOption.AllDirectories).Any());
            return Task.CompletedTask;
        });

    [Fact]
    public async Task Submit_KillSiloHoldingTheJobInItsPostPass_ReplansItAndMatchesOneSiloRun()
    {
        var output = await KillHolderAndCompareAsync("post", 2000,
            ", \"views\": { \"pruning\": { \"samples\": 200 }, \"maximisation\": { \"steps\": 1500, \"channels\": 2 }, \"embedding\": { \"knnSamples\": 100 } }",
            async output =>
            {
                // The post pass has begun once an embedding part is staged; then the job's own silo goes.
                var staging = Path.Combine(output, "_attempts");
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
                while (!(Directory.Exists(staging) && Directory.EnumerateFiles(staging, "part-*.npy", SearchOption.AllDirectories).Any(f => f.Contains("embedding", StringComparison.Ordinal))))
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException("the post pass did not begin in 3 minutes");
                    await Task.Delay(50);
                }
            });
        Assert.Equal(10, Directory.GetFiles(Path.Combine(output, "embedding")).Length);
        Assert.False(Directory.Exists(Path.Combine(output, "_attempts")), "staged attempts left behind");
    }

    [Fact]
    public async Task Submit_KillSiloHoldingTheJobInItsComparePass_RunsItAgainAndComparesAsOneSiloRun()
    {
        // The baseline: another model's run on the same images.
        const int samples = ExplainCluster.Engine.Compare.ComparePart.Range + 404;
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, samples);
        var baselineJob = Path.Combine(folder, "baseline.json");
        await File.WriteAllTextAsync(baselineJob, TestPaths.FashionJob(images, labels, "out", shardSize: 1000, model: TestPaths.Fixture("compare/seed1.pt")));
        var a = Path.Combine(folder, "a");
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", baselineJob, "--out", a);
        Assert.True(run.ExitCode == 0, run.ToString());

        var output = await KillHolderAndCompareAsync("compare", samples, $$""", "compare": { "baseline": "{{a}}" }""", async output =>
        {
            // The compare pass begins once the job's files are in place: summary.json beside a manifest still running.
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (!File.Exists(Path.Combine(output, "summary.json")))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the job's files were not in place in 3 minutes");
                await Task.Delay(20);
            }
        }, folder);
        var reference = Path.Combine(Path.GetDirectoryName(output)!, "reference");
        Assert.Equal(Comparison(reference), Comparison(output));
        Assert.False(Directory.Exists(Path.Combine(output, "_attempts")), "staged attempts left behind");
    }

    /// <summary>
    /// The credit table's job in shards of 150 (30), its error tree on: the job's silo is killed once the tree pass has begun
    /// (its first level's start logged). The job resumes where its record says it was (the tree pass at whatever level the
    /// record holds, or the end of the explain pass when the kill came before the record of the tree pass's start was
    /// written: the silos' lines reach the test seconds late under load), runs the rest, and its summary (the tree among it)
    /// is a one-silo run's byte for byte. (Waiting for the second level's line raced the whole
    /// pass under load: the silos' log lines reach the test late, and the job had completed before the kill. A resume mid-level
    /// with the first level's split in the record is JobPassesTests'.)
    /// </summary>
    [Fact]
    public async Task Submit_KillSiloHoldingTheJobInItsTreePass_ResumesTheLevelInProgressAndMatchesOneSiloRun()
    {
        var table = $$"""
            { "model": { "uri": "{{TestPaths.Fixture("tabular/credit_mlp.pt")}}", "classes": ["bad", "good"] },
              "data": {{ExplainCluster.Tests.Data.TableFiles.CreditData(ExplainCluster.Tests.Data.TableFiles.Credit)}},
              "methods": { "saliency": {} }, "target": "label", "shardSize": 150, "batchSize": 512, "output": "out" }
            """;
        var output = await KillHolderAndCompareAsync("tree", 0, "", _ => Task.CompletedTask, table: table, untilSilosSay: async silos =>
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
            while (!silos.Any(s => s.Lines.Any(l => l.Contains("its Tree pass starts", StringComparison.Ordinal))))
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the tree pass did not begin in 3 minutes");
                await Task.Delay(10);
            }
        });
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        Assert.True(summary.RootElement.GetProperty("errorTree").GetProperty("root").GetProperty("children").GetArrayLength() == 2);
    }

    /// <summary>A run's comparison.json without the candidate's own reference (its folder, id and time differ between the two runs).</summary>
    private static string Comparison(string output)
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "compare", "comparison.json")))!.AsObject();
        Assert.NotNull(json["representation"]?["linearCka"]);
        json.Remove("candidate");
        return json.ToJsonString();
    }

    /// <summary>
    /// The Fashion-MNIST job (<paramref name="samples"/> images, shards of 200, <paramref name="extra"/> in its file) run
    /// once on one embedded silo, then submitted as <paramref name="id"/> to three silo processes; once
    /// <paramref name="untilFault"/> returns, the silo holding the job is killed. The job must complete, resumed on another
    /// silo, with the reference's summary byte for byte. Returns the cluster run's output (in <paramref name="folder"/>, a new one when null).
    /// </summary>
    /// <param name="table">Instead of the images, this job file (its output "out").</param>
    private static async Task<string> KillHolderAndCompareAsync(string id, int samples, string extra, Func<string, Task> untilFault, string? folder = null,
        string? table = null, Func<SiloProcess[], Task>? untilSilosSay = null)
    {
        folder ??= TestPaths.NewFolder();
        var jobPath = Path.Combine(folder, "job.json");
        if (table is not null) await File.WriteAllTextAsync(jobPath, table);
        else
        {
            var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, samples);
            await File.WriteAllTextAsync(jobPath, TestPaths.FashionJob(images, labels, "out", shardSize: 200, extra: extra));
        }
        var reference = Path.Combine(folder, "reference");
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", jobPath, "--out", reference);
        Assert.True(run.ExitCode == 0, run.ToString());

        await using var redis = await RedisServer.StartAsync();
        var silos = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => SiloProcess.StartAsync(redis.ConnectionString)));
        try
        {
            var output = Path.Combine(folder, "cluster");
            var submit = await CliResult.RunAsync(TimeSpan.FromMinutes(1), "submit", jobPath, "--cluster", redis.ConnectionString, "--out", output, "--id", id);
            Assert.True(submit.ExitCode == 0, submit.ToString());
            await untilFault(output);
            if (untilSilosSay is not null) await untilSilosSay(silos);
            var holder = silos.Single(s => s.Holds(id));
            holder.Kill();

            var watch = await CliResult.RunAsync(TimeSpan.FromMinutes(4), "watch", id, "--cluster", redis.ConnectionString);
            Assert.True(watch.ExitCode == 0, watch + string.Join("\n---\n", silos.Select(s => s.Log)));
            var resumed = $"Job {id} resumed";
            Assert.True(silos.Where(s => s != holder).Any(s => s.Log.Contains(resumed, StringComparison.Ordinal)),
                $"no silo logged \"{resumed}\"; the silos' lines about job {id}:\n" + string.Join("\n", silos.SelectMany(s => s.Lines)
                    .Where(l => l.Contains($"Job {id}", StringComparison.Ordinal) || l.Contains($"job {id}", StringComparison.Ordinal))));
            Assert.Equal(Jobs.Summary(reference), Jobs.Summary(output));
            return output;
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }
}
