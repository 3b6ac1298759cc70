using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

public class LocationPolicyTests
{
    private static ExplainCluster.Contracts.JobSpec Job(string folder, string inputs, string output, string? model = null) =>
        JobFile.Parse(TestPaths.FashionJob(inputs, null, output, model: model), folder);

    [Fact]
    public void Check_LocalPaths_OnlyUnderTheRoots_AfterDotDotAndLinksAreResolved()
    {
        var root = TestPaths.NewFolder();
        var policy = new LocationPolicy([root], null);
        policy.Check(Job(root, "data/x.npy", "out"));
        policy.Check(Job(root, "a/../x.npy", "out/deeper"));

        string Refused(string inputs, string output) => Assert.Throws<ExplainException>(() => policy.Check(Job(root, inputs, output))).Message;
        Assert.StartsWith("data.inputs: ", Refused("../x.npy", "out"));
        Assert.Contains($"is outside Storage:LocalRoots ({LocationPolicy.RealPath(root)})", Refused("../x.npy", "out"));
        Assert.StartsWith("output: /tmp/elsewhere is outside", Refused("x.npy", "/tmp/elsewhere"));
        // A sibling whose name starts with the root's is not under it.
        Assert.StartsWith("output: ", Refused("x.npy", root + "-sibling/out"));

        // Links, to a folder or to a file, are followed before the check, at any depth of the path.
        Directory.CreateSymbolicLink(Path.Combine(root, "up"), "/etc");
        File.CreateSymbolicLink(Path.Combine(root, "passwd.npy"), "/etc/passwd");
        Assert.StartsWith("data.inputs: ", Refused("up/passwd", "out"));
        Assert.StartsWith("data.inputs: ", Refused("passwd.npy", "out"));
        // A link that stays inside the root is fine.
        Directory.CreateDirectory(Path.Combine(root, "real"));
        Directory.CreateSymbolicLink(Path.Combine(root, "alias"), Path.Combine(root, "real"));
        policy.Check(Job(root, "alias/x.npy", "alias/out"));
    }

    /// <summary>A table's parts are checked one by one: a folder under a root whose part links outside it is refused, naming the part.</summary>
    [Fact]
    public async Task Open_TablePartLinkedOutsideTheRoots_Refused()
    {
        var (root, outside) = (TestPaths.NewFolder(), TestPaths.NewFolder());
        var written = await Data.TablePartsCliTests.WritePartsAsync(TestPaths.Fixture("tabular/tabular_linear.csv"), outside, [0, 2], parquet: false);
        var parts = Directory.CreateDirectory(Path.Combine(root, "parts")).FullName;
        File.Copy(written[0], Path.Combine(parts, "part-00000.csv"));
        File.CreateSymbolicLink(Path.Combine(parts, "part-00001.csv"), written[1]);
        var job = JobFile.Parse($$"""
            { "model": { "uri": "m.pt" }, "data": {{Data.TableFiles.LinearData("parts")}}, "methods": { "saliency": {} }, "output": "out" }
            """, root);
        var policy = new LocationPolicy([root], null);
        policy.Check(job); // the folder itself is under the root
        var error = await Assert.ThrowsAsync<ExplainException>(() => Dataset.OpenAsync(job, new BlobLocator(null), policy: policy));
        Assert.StartsWith($"data.table: {Path.Combine(parts, "part-00001.csv")} is outside Storage:LocalRoots", error.Message);
        // The same part copied in: the folder opens, all six rows.
        File.Delete(Path.Combine(parts, "part-00001.csv"));
        File.Copy(written[1], Path.Combine(parts, "part-00001.csv"));
        Assert.Equal(6, (await Dataset.OpenAsync(job, new BlobLocator(null), policy: policy)).Count);
    }

    /// <summary>TCAV's concept and random sets are read like the data, so the roots bind them too, each named by its field.</summary>
    [Fact]
    public void Check_ConceptSets_OnlyUnderTheRoots()
    {
        var root = TestPaths.NewFolder();
        var policy = new LocationPolicy([root], null);
        ExplainCluster.Contracts.JobSpec WithConcepts(string set, string random) => JobFile.Parse(TestPaths.FashionJob("x.npy", null, "out",
            extra: $$""", "concepts": { "layer": "10", "sets": { "striped": "{{set}}" }, "random": "{{random}}" }"""), root);
        policy.Check(WithConcepts("c/striped.npy", "c/random.npy"));
        Assert.StartsWith("concepts.sets.striped: /etc/striped.npy is outside Storage:LocalRoots",
            Assert.Throws<ExplainException>(() => policy.Check(WithConcepts("/etc/striped.npy", "c/random.npy"))).Message);
        Assert.StartsWith("concepts.random: ", Assert.Throws<ExplainException>(() => policy.Check(WithConcepts("c/striped.npy", "../random.npy"))).Message);
    }

    [Fact]
    public void Check_Models_OnlyUnderTheListedPrefixes_AtPathBoundaries()
    {
        var root = TestPaths.NewFolder();
        var models = Path.Combine(root, "models");
        var policy = new LocationPolicy(null, ["az://models/", "https://acct.blob.core.windows.net/approved", models]);
        policy.Check(Job(root, "x.npy", "out", "az://models/resnet.pt"));
        policy.Check(Job(root, "x.npy", "out", "https://acct.blob.core.windows.net/approved/m.pt?sv=1&sig=s"));
        policy.Check(Job(root, "x.npy", "out", Path.Combine(models, "m.pt")));

        string Refused(string model) => Assert.Throws<ExplainException>(() => policy.Check(Job(root, "x.npy", "out", model))).Message;
        Assert.StartsWith("model.uri: az://models-other/m.pt is not under ModelHost:ModelLocations", Refused("az://models-other/m.pt"));
        Assert.StartsWith("model.uri: ", Refused("https://acct.blob.core.windows.net/approved-not/m.pt"));
        Assert.StartsWith("model.uri: ", Refused(Path.Combine(models, "..", "m.pt")));
        // The refusal names no secret of the location it refuses.
        Assert.DoesNotContain("sig=secret", Refused("https://acct.blob.core.windows.net/other/m.pt?sig=secret"));
    }

    [Fact]
    public void Unrestricted_AllowsAnything()
    {
        var folder = TestPaths.NewFolder();
        LocationPolicy.Unrestricted.Check(Job(folder, "/etc/passwd", "/tmp/x", "az://any/m.pt"));
        Assert.False(LocationPolicy.Unrestricted.RestrictsLocalPaths);
    }
}

/// <summary>
/// The embedded <c>explain run</c> reads what its job file names, wherever it is (datasets live under /data or a mounted
/// share, not beside the job file); Storage:LocalRoots binds it only where the environment sets them.
/// </summary>
public class EmbeddedLocalRootsTests
{
    [Fact]
    public async Task Run_InputsOutsideTheJobFolder_Read_UnlessLocalRootsAreSet()
    {
        var jobFolder = TestPaths.NewFolder();
        var dataFolder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(dataFolder, 10);
        var path = Path.Combine(jobFolder, "job.json");
        await File.WriteAllTextAsync(path, TestPaths.FashionJob(images, labels, "out"));
        var ok = await CliResult.RunAsync(TimeSpan.FromMinutes(1), "run", path);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(jobFolder, "out", "manifest.json"))).RootElement;
        Assert.Equal(("completed", 10), (manifest.GetProperty("status").GetString(), manifest.GetProperty("samples").GetInt32()));

        var restricted = new Dictionary<string, string> { ["Storage__LocalRoots__0"] = jobFolder };
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(1), restricted, "run", path, "--out", Path.Combine(jobFolder, "again"));
        Assert.Equal(1, run.ExitCode);
        Assert.StartsWith($"error: data.inputs: {images} is outside Storage:LocalRoots", run.Stderr);
        Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.False(Directory.Exists(Path.Combine(jobFolder, "again", "samples")));
    }
}
