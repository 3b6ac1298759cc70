using System.Security.Cryptography;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.History;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Tests.Infrastructure;
using Parquet;

namespace ExplainCluster.Tests.History;

/// <summary>
/// A job file run again and again (a CronJob each night): its output's placeholders give each run its own folder, and its
/// history's catalogue lists every completed run, one row each, however many finish at once.
/// </summary>
public class RunHistoryTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    [Fact]
    public void Expand_EachPlaceholder_AsDocumented()
    {
        var started = new DateTimeOffset(2026, 12, 2, 23, 4, 5, TimeSpan.FromHours(2)); // 21:04:05 UTC
        var sha = "0123456789abcdef" + new string('0', 48);
        Assert.Equal("az://results/nightly-audit/2026-12-02-210405-0123456789ab/job-7",
            OutputTemplate.Expand("az://results/{name}/{date}-{time}-{model}/{id}", "nightly audit", "job-7", started, sha));
        // A value is one path segment: a name cannot climb out of the folder.
        Assert.Equal("/r/-/x", OutputTemplate.Expand("/r/{name}/x", "..", "id", started, null));
        Assert.Equal("/r/a-b/x", OutputTemplate.Expand("/r/{name}/x", "a/b", "id", started, null));
        Assert.Equal("az://results", OutputTemplate.Root("az://results/{name}/{date}"));
        Assert.Equal("/data/out", OutputTemplate.Root("/data/out"));
    }

    [Theory]
    [InlineData("out/{nmae}", "output: unknown placeholder {nmae}; the placeholders are {name}, {date}, {time}, {model}, {id}")]
    [InlineData("out/{date", "output: unbalanced braces in ")]
    public void Parse_BadPlaceholder_OneLineErrorNamingIt(string output, string expected)
    {
        var folder = TestPaths.NewFolder();
        var e = Assert.Throws<ExplainException>(() => JobFile.Parse(TestPaths.FashionJob("x.npy", null, output), folder));
        Assert.StartsWith(expected, e.Message);
    }

    [Fact]
    public async Task Run_TwiceWithDatedOutputAndHistory_TwoFoldersAndTwoRowsOldestFirst()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 200);
        var json = TestPaths.FashionJob(images, labels, "runs/{name}/{date}-{model}-{id}", shardSize: 100, extra: ", \"history\": \"runs\"");
        var first = await Jobs.RunAsync(one.Grains, json, folder);
        var second = await Jobs.RunAsync(one.Grains, json, folder);
        Assert.Equal(JobState.Completed, first.State);
        Assert.Equal(JobState.Completed, second.State);

        var sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(TestPaths.Sample("model.pt"))));
        var rows = await new RunCatalogue(new ExplainCluster.Engine.Storage.LocalBlob(Path.Combine(folder, "runs"))).ReadAsync();
        Assert.Equal(2, rows.Length);
        Assert.Equal([first.Output, second.Output], rows.Select(r => r.Output));
        Assert.NotEqual(first.Output, second.Output);
        foreach (var (row, status) in rows.Zip([first, second]))
        {
            Assert.Equal(Path.Combine(folder, "runs", "fmnist-test", $"{row.Started.UtcDateTime:yyyy-MM-dd}-{sha[..12]}-{Sanitised(row.JobId)}"), status.Output);
            var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(status.Output, OutputLayout.Manifest))).RootElement;
            Assert.Equal("completed", manifest.GetProperty("status").GetString());
            Assert.Equal(row.JobId, manifest.GetProperty("jobId").GetString());
            Assert.Equal(sha, row.ModelSha256);
            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(status.Output, OutputLayout.Summary))).RootElement;
            Assert.Equal(summary.GetProperty("errorAnalysis").GetProperty("accuracy").GetDouble(), row.Accuracy);
            Assert.Equal(200, row.Samples);
        }
        Assert.True(rows[0].Finished <= rows[1].Finished);
        Assert.False(File.Exists(Path.Combine(folder, "runs", RunCatalogue.Lock)));

        // runs.parquet holds the same rows, for SQL.
        var parquet = Path.Combine(folder, "runs", RunCatalogue.Parquet);
        Assert.Equal(rows.Select(r => r.JobId), await StringColumnAsync(parquet, "jobId"));
        Assert.Equal(rows.Select(r => r.Output), await StringColumnAsync(parquet, "output"));
    }

    [Fact]
    public async Task Run_FourJobsOfOneHistoryAtOnce_EveryRowKept()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 100);
        var job = JobFile.Parse(TestPaths.FashionJob(images, labels, "runs/{id}", shardSize: 100, extra: ", \"history\": \"runs\""), folder);
        var ids = Enumerable.Range(0, 4).Select(i => $"night-{i}-{Guid.NewGuid():N}").ToArray();
        var starts = await Task.WhenAll(ids.Select(id => one.Grains.GetGrain<IJobGrain>(id).StartAsync(job)));
        var done = await Task.WhenAll(ids.Zip(starts, (id, s) => ExplainCluster.Client.JobRunner.FollowAsync(one.Grains, id, s)));
        Assert.All(done, s => Assert.Equal(JobState.Completed, s.State));
        var rows = await new RunCatalogue(new ExplainCluster.Engine.Storage.LocalBlob(Path.Combine(folder, "runs"))).ReadAsync();
        Assert.Equal(ids.Order(), rows.Select(r => r.JobId).Order());
    }

    [Fact]
    public async Task Add_SameJobTwice_OneRow()
    {
        // Completing is repeatable (a job that stops between adding its row and marking completed adds it again).
        var folder = TestPaths.NewFolder();
        var catalogue = new RunCatalogue(new ExplainCluster.Engine.Storage.LocalBlob(folder));
        var row = new RunRow("a", "n", "/o", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddSeconds(5), 5, "m.pt", null, null, null, 10, 0.5, null, null);
        await catalogue.AddAsync(row);
        await catalogue.AddAsync(row with { Accuracy = 0.6 });
        await catalogue.AddAsync(row with { JobId = "b", Finished = DateTimeOffset.UnixEpoch.AddSeconds(1) });
        var rows = await catalogue.ReadAsync();
        Assert.Equal(["b", "a"], rows.Select(r => r.JobId));
        Assert.Equal(0.6, rows[1].Accuracy);
    }

    [Fact]
    public async Task Add_LockLeftByADeadWriter_TakenOverWhenStale()
    {
        var folder = TestPaths.NewFolder();
        var since = DateTimeOffset.UtcNow - RunCatalogue.StaleLock - TimeSpan.FromSeconds(1);
        await File.WriteAllTextAsync(Path.Combine(folder, RunCatalogue.Lock), $$"""{"jobId":"dead","since":"{{since:O}}"}""");
        var catalogue = new RunCatalogue(new ExplainCluster.Engine.Storage.LocalBlob(folder));
        await catalogue.AddAsync(new RunRow("a", "n", "/o", since, since, 0, "m.pt", null, null, null, 1, null, null, null));
        Assert.Single(await catalogue.ReadAsync());
        Assert.False(File.Exists(Path.Combine(folder, RunCatalogue.Lock)));
    }

    private static string Sanitised(string id) => new([.. id.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? c : '-')]);

    private static async Task<string?[]> StringColumnAsync(string path, string column)
    {
        await using var stream = File.OpenRead(path);
        await using var reader = await ParquetReader.CreateAsync(stream);
        using var group = reader.OpenRowGroupReader(0);
        var values = new string?[(int)group.RowCount];
        await group.ReadAsync(reader.Schema.GetDataFields().Single(f => f.Name == column), values.AsMemory());
        return values;
    }
}
