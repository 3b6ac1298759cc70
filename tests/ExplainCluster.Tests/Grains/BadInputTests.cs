using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>Each bad input: a one-line error naming the problem, nothing marked completed, and the silo still serves.</summary>
[Collection(ConsoleCollection.Name)]
public partial class BadInputTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private async Task<(JobStatus Status, string Output)> RunBadAsync(Func<string, Task<string>> makeJob)
    {
        var folder = TestPaths.NewFolder();
        var json = await makeJob(folder);
        var job = JobFile.Parse(json, folder);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var status = await JobRunner.RunAsync(one.Grains, job, ct: timeout.Token);
        Assert.Equal(JobState.Failed, status.State);
        Assert.NotNull(status.Error);
        Assert.DoesNotContain('\n', status.Error!);
        var manifest = Path.Combine(job.Output, "manifest.json");
        if (File.Exists(manifest))
        {
            using var doc = Jobs.ReadJson(manifest);
            Assert.NotEqual("completed", doc.RootElement.GetProperty("status").GetString());
        }
        await SiloStillServesAsync();
        return (status, job.Output);
    }

    private async Task SiloStillServesAsync()
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, 40);
        var status = await Jobs.RunAsync(one.Grains, TestPaths.FashionJob(images, labels, Path.Combine(folder, "ok")), folder);
        Assert.Equal(JobState.Completed, status.State);
    }

    private static async Task<string> GoodJobAsync(string folder, int count = 40, string? model = null, string layer = "10", string? output = null)
    {
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, count);
        return TestPaths.FashionJob(images, labels, output ?? Path.Combine(folder, "out"), model: model, layer: layer);
    }

    [Fact]
    public async Task Run_MissingModel_NamesTheModel()
    {
        var (status, _) = await RunBadAsync(f => GoodJobAsync(f, model: Path.Combine(f, "nope.pt")));
        Assert.Matches("model .*nope.pt does not exist", status.Error);
    }

    [Fact]
    public async Task Run_ModelThatIsNotTorchScript_SaysSo()
    {
        var (status, output) = await RunBadAsync(async f =>
        {
            var fake = Path.Combine(f, "fake.pt");
            await File.WriteAllTextAsync(fake, "this is not a model");
            return await GoodJobAsync(f, model: fake);
        });
        Assert.Contains("is not a TorchScript file", status.Error);
        using var manifest = Jobs.ReadJson(Path.Combine(output, "manifest.json"));
        Assert.Equal("failed", manifest.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Run_MissingData_NamesTheFile()
    {
        var (status, _) = await RunBadAsync(f => Task.FromResult(TestPaths.FashionJob(Path.Combine(f, "none.npy"), null, Path.Combine(f, "out"))));
        Assert.Matches("none.npy does not exist", status.Error);
    }

    [Fact]
    public async Task Run_InputShapeThatDoesNotFit_NamesBothShapes()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            // Three channels where the model's first convolution takes one. (A smaller image would fit: the
            // demo model pools globally.)
            var path = Path.Combine(f, "rgb.npy");
            await File.WriteAllBytesAsync(path, NpyFormat.Encode(new float[10 * 3 * 28 * 28], [10, 3, 28, 28]));
            return TestPaths.FashionJob(path, null, Path.Combine(f, "out"));
        });
        // Ours names the sample's shape; libtorch's explanatory line (not its TorchScript traceback) names the model's.
        Assert.Contains("input [3, 28, 28] does not fit model", status.Error);
        Assert.Contains("to have 1 channels, but got 3 channels", status.Error);
        Assert.DoesNotContain("TorchScript interpreter", status.Error);
    }

    [Fact]
    public async Task Run_LabelCountDiffers_SaysBothCounts()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var (images, _) = await TestPaths.FashionMnistNpyAsync(f, 40);
            var labels = Path.Combine(f, "short.npy");
            await File.WriteAllBytesAsync(labels, NpyFormat.Encode(new long[39], [39]));
            return TestPaths.FashionJob(images, labels, Path.Combine(f, "out"));
        });
        Assert.Equal("label count 39 differs from input count 40", status.Error);
    }

    [Fact]
    public async Task Run_LabelOutsideClasses_NamesLabelAndSample()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var (images, _) = await TestPaths.FashionMnistNpyAsync(f, 40);
            var values = new long[40];
            values[17] = 12;
            var labels = Path.Combine(f, "bad-labels.npy");
            await File.WriteAllBytesAsync(labels, NpyFormat.Encode(values, [40]));
            return TestPaths.FashionJob(images, labels, Path.Combine(f, "out"));
        });
        Assert.Equal("label 12 at sample 17 is outside the model's classes 0..9", status.Error);
    }

    [Fact]
    public async Task Run_NaNInInputs_NamesTheSample()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var data = new float[30 * 28 * 28];
            data[23 * 784 + 5] = float.NaN;
            var path = Path.Combine(f, "nan.npy");
            await File.WriteAllBytesAsync(path, NpyFormat.Encode(data, [30, 28, 28]));
            return TestPaths.FashionJob(path, null, Path.Combine(f, "out"));
        });
        Assert.Equal("inputs contain NaN or Inf at sample 23", status.Error);
    }

    [Fact]
    public async Task Run_EmptyDataset_SaysEmpty()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var path = Path.Combine(f, "empty.npy");
            await File.WriteAllBytesAsync(path, NpyFormat.Encode(Array.Empty<float>(), [0, 28, 28]));
            return TestPaths.FashionJob(path, null, Path.Combine(f, "out"));
        });
        Assert.Contains("holds no samples (empty dataset)", status.Error);
    }

    [Fact]
    public async Task Run_UnknownGradCamLayer_NamesTheLayer()
    {
        var (status, _) = await RunBadAsync(f => GoodJobAsync(f, layer: "features"));
        Assert.StartsWith("unknown Grad-CAM layer \"features\"", status.Error);
    }

    [Fact]
    public async Task Run_UnknownPruningLayer_FailsTheJobNamingTheOption()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var (images, labels) = await TestPaths.FashionMnistNpyAsync(f, 40);
            return TestPaths.FashionJob(images, labels, Path.Combine(f, "out"), extra: ", \"views\": { \"pruning\": { \"layer\": \"99\", \"samples\": 10 } }");
        });
        Assert.StartsWith("views.pruning.layer: unknown layer \"99\"", status.Error);
        Assert.DoesNotContain('\n', status.Error!);
    }

    [Fact]
    public async Task Run_EmbeddingOfAWideLayer_FailsTheJobNamingTheOption_AndTheSiloCarriesOn()
    {
        // Layer "10" of the demo model: 128 channels × 7 × 7 = 6272 features, too wide for a covariance.
        var (status, _) = await RunBadAsync(async f =>
        {
            var (images, labels) = await TestPaths.FashionMnistNpyAsync(f, 40);
            return TestPaths.FashionJob(images, labels, Path.Combine(f, "out"), extra: ", \"views\": { \"embedding\": { \"layer\": \"10\" } }");
        });
        Assert.Equal("views.embedding.layer: \"10\" gives 6272 features per sample; at most 2048 (their covariance is features² values): name a later, narrower layer", status.Error);
        // The silo that failed it runs the next job as usual.
        var folder = TestPaths.NewFolder();
        Assert.Equal(JobState.Completed, (await Jobs.RunAsync(one.Grains, await GoodJobAsync(folder), folder)).State);
    }

    [Fact]
    public async Task Run_OutputThatCannotBeWritten_SaysSo()
    {
        var (status, _) = await RunBadAsync(async f =>
        {
            var blocker = Path.Combine(f, "blocker");
            await File.WriteAllTextAsync(blocker, "a file where a folder should be");
            return await GoodJobAsync(f, output: Path.Combine(blocker, "out"));
        });
        Assert.Contains("cannot be written", status.Error);
    }

    [Fact]
    public async Task Run_JobWithCommentsAndTrailingCommas_Completes()
    {
        // Found by the job-file fuzz test: the job file's dialect held for the job file but not for a method's options or the manifest's copy.
        var folder = TestPaths.NewFolder();
        var json = (await GoodJobAsync(folder))
            .Replace("\"layer\": \"10\" }", "\"layer\": \"10\", /* the last block */ }")
            .Replace("\"methods\":", "// saliency and friends\n  \"methods\":");
        Assert.Contains("/* the last block */", json);
        var status = await Jobs.RunAsync(one.Grains, json, folder);
        Assert.Equal(JobState.Completed, status.State);
    }

    [Theory]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"shards\": 3 }", "shards: unknown field")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\", \"clases\": [] }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\" }", "model.clases: unknown field")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"shap\": {} }, \"output\": \"o\" }", "methods.shap: unknown method")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"grad-cam\": {} }, \"output\": \"o\" }", "methods.grad-cam.layer: missing")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"shardSize\": 0 }", "shardSize: expected an integer")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"shardSize\": -4 }", "shardSize: expected an integer from 1 to 16384")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"batchSize\": 0 }", "batchSize: expected an integer from 1 to 65536")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"batchSize\": -1 }", "batchSize: expected an integer from 1 to 65536")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"batchSize\": 2.5 }", "batchSize: expected an integer from 1 to 65536")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\", \"target\": \"label\" }", "target: \"label\" needs data.labels")]
    [InlineData("{ \"model\": { }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": {}, \"output\": \"o\" }", "model.uri: missing")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"integrated-gradients\": { \"steps\": 0 } }, \"output\": \"o\" }", "methods.integrated-gradients.steps: expected an integer from 1 to 10000")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"integrated-gradients\": { \"method\": \"simpson\" } }, \"output\": \"o\" }", "methods.integrated-gradients.method: expected one of \"gausslegendre\"")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"integrated-gradients\": { \"baseline\": \"black\" } }, \"output\": \"o\" }", "methods.integrated-gradients.baseline: expected \"zero\", a number or \"blur\"")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"smooth-grad\": { \"of\": \"grad-cam\" } }, \"output\": \"o\" }", "methods.smooth-grad.of: expected one of \"saliency\", \"grad-x-input\", \"integrated-gradients\"")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"smooth-grad\": { \"noise\": 0.2 } }, \"output\": \"o\" }", "methods.smooth-grad.noise: unknown field")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"saliency\": { \"layer\": \"3\" } }, \"output\": \"o\" }", "methods.saliency.layer: unknown field")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"lime\": { \"subset\": { \"perClass\": 5, \"fraction\": 0.5 } } }, \"output\": \"o\" }", "methods.lime.subset: give either fraction or perClass, not both")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"saliency\": {} }, \"sanity\": { \"methods\": [\"lime\"] }, \"output\": \"o\" }", "sanity.methods: \"lime\" is not a method of this job (saliency)")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"param-grads\": {} }, \"sanity\": { \"methods\": [\"param-grads\"] }, \"output\": \"o\" }", "sanity.methods: \"param-grads\" has no maps over the pixels to compare")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"param-grads\": { \"projection\": { \"dims\": 0 } } }, \"output\": \"o\" }", "methods.param-grads.projection.dims: expected an integer from 1 to 65536")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, \"data\": { \"inputs\": \"x.npy\" }, \"methods\": { \"param-grads\": { \"layers\": 3 } }, \"output\": \"o\" }", "methods.param-grads.layers: expected \"all\" or a list of module names")]
    [InlineData("{ \"model\": { \"uri\": \"m.pt\" }, ", "job file is not valid JSON")]
    public async Task Cli_MalformedJob_ExitsNonZeroNamingTheField(string json, string expected)
    {
        var folder = TestPaths.NewFolder();
        var path = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(path, json);
        var (exit, _, error) = await ConsoleCollection.RunCliAsync("run", path);
        Assert.Equal(1, exit);
        Assert.StartsWith("error: " + expected, error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Throws<ExplainException>(() => JobFile.Parse(json, folder));
    }
}
