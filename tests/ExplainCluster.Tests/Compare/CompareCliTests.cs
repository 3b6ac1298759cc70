using System.Text.Json;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Compare;

/// <summary>`explain compare A B` as a user's terminal sees it: the findings with the representation's CKA, the files, the exit code.</summary>
[Collection(ConsoleCollection.Name)]
public class CompareCliTests
{
    [Fact]
    public async Task Compare_TwoRuns_WritesCkaAndDrawings_Exit0_MissingRunIsOneLine()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 100);
        var runs = new List<string>();
        foreach (var (name, model) in new[] { ("a", TestPaths.Sample("model.pt")), ("b", TestPaths.Fixture("compare/seed1.pt")) })
        {
            var job = Path.Combine(folder, $"{name}.json");
            await File.WriteAllTextAsync(job, TestPaths.FashionJob(images, labels, Path.Combine(folder, name), shardSize: 50, model: model));
            var (runExit, _, runError) = await ConsoleCollection.RunCliAsync("run", job);
            Assert.True(runExit == 0, runError);
            runs.Add(Path.Combine(folder, name));
        }
        var dir = Path.Combine(folder, "cmp");
        var (exit, stdout, stderr) = await ConsoleCollection.RunCliAsync("compare", runs[0], runs[1], "--out", dir);
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"Representation: linear CKA 0\.\d{3} between A's features at layer 12 \(128\) and B's at layer 12 \(128\), over 100 samples", stdout);
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "comparison.json"))).RootElement;
        Assert.InRange(json.GetProperty("representation").GetProperty("linearCka").GetDouble(), 0.2, 0.99);
        Assert.True(File.Exists(Path.Combine(dir, "changed-grad-cam.png")));

        var (missing, _, error) = await ConsoleCollection.RunCliAsync("compare", Path.Combine(folder, "nowhere"), runs[1]);
        Assert.Equal(1, missing);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("baseline: ", error);
        Assert.Contains("does not exist", error);
        Assert.DoesNotContain(" at ", error);
    }
}
