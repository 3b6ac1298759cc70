using ExplainCluster.Engine.History;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.History;

/// <summary>The deployed CronJob's nights as a user's terminal sees them: the same job file run twice, exit 0 both times.</summary>
[Collection(ConsoleCollection.Name)]
public class RunHistoryCliTests
{
    [Fact]
    public async Task Run_SameJobFileTwice_SecondNightGetsItsOwnFolderAndARow()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 100);
        var path = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(path, TestPaths.FashionJob(images, labels, "{name}/{date}-{time}", shardSize: 100, extra: ", \"history\": \"history\""));

        var reports = new List<string>();
        for (var night = 0; night < 2; night++)
        {
            // {time} has a resolution of a second; nights are a day apart.
            if (night > 0) await Task.Delay(1001 - DateTime.UtcNow.Millisecond);
            var (exit, stdout, stderr) = await ConsoleCollection.RunCliAsync("run", path);
            Assert.True(exit == 0, stderr);
            var report = stdout.Split('\n').Single(l => l.StartsWith("report: ", StringComparison.Ordinal))["report: ".Length..].Trim();
            Assert.Matches(@"/fmnist-test/\d{4}-\d\d-\d\d-\d{6}/report\.html$", report);
            Assert.True(File.Exists(report), report);
            reports.Add(report);
        }
        Assert.NotEqual(reports[0], reports[1]);
        var rows = await new RunCatalogue(new ExplainCluster.Engine.Storage.LocalBlob(Path.Combine(folder, "history"))).ReadAsync();
        Assert.Equal(reports.Select(Path.GetDirectoryName), rows.Select(r => r.Output));
    }
}
