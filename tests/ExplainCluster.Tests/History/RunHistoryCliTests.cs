using ExplainCluster.Engine.History;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.History;

/// <summary>
/// The deployed CronJob's nights as a user's terminal sees them: the same job file run again each night, each in its own
/// folder, compared with the night before: exit 0 while nothing drifts, 4 when a retraining crosses the gate.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class RunHistoryCliTests
{
    [Fact]
    public async Task Run_SameJobFileEachNight_OwnFolderARowAndExit4OnDrift()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 100);
        var path = Path.Combine(folder, "job.json");
        string Job(string model) => TestPaths.FashionJob(images, labels, "{name}/{date}-{time}", shardSize: 100, model: model,
            extra: """, "history": "history", "compare": { "baseline": "previous", "fail": { "accuracyDrop": 0.01 } }""");

        var reports = new List<string>();
        string[] models = [TestPaths.Sample("model.pt"), TestPaths.Sample("model.pt"), TestPaths.Fixture("compare/shirt_permuted.pt")];
        foreach (var (model, night) in models.Select((m, i) => (m, i)))
        {
            await File.WriteAllTextAsync(path, Job(model));
            // {time} has a resolution of a second; nights are a day apart.
            if (night > 0) await Task.Delay(1001 - DateTime.UtcNow.Millisecond);
            var (exit, stdout, stderr) = await ConsoleCollection.RunCliAsync("run", path);
            var report = stdout.Split('\n').Single(l => l.StartsWith("report: ", StringComparison.Ordinal))["report: ".Length..].Trim();
            Assert.Matches(@"/fmnist-test/\d{4}-\d\d-\d\d-\d{6}/report\.html$", report);
            Assert.True(File.Exists(report), report);
            reports.Add(report);
            if (night < 2)
            {
                Assert.True(exit == 0, stderr);
                Assert.Equal(night == 1, File.Exists(Path.Combine(Path.GetDirectoryName(report)!, "compare", "compare.html")));
            }
            else
            {
                Assert.Equal(4, exit);
                Assert.Matches(@"^drift: accuracyDrop: accuracy fell by 0\.\d+ \(0\.\d+ → 0\.\d+\), more than 0\.01$", stderr.Trim());
            }
        }
        Assert.Equal(3, reports.Distinct().Count());
        var rows = await new RunCatalogue(new ExplainCluster.Engine.Storage.LocalBlob(Path.Combine(folder, "history"))).ReadAsync();
        Assert.Equal(reports.Select(Path.GetDirectoryName), rows.Select(r => r.Output));
    }
}
