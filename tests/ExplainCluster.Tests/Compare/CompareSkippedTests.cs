using System.Text.Json.Nodes;
using ExplainCluster.Tests.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Compare;

/// <summary>
/// <c>explain compare</c> of runs that skipped unreadable images (<c>"onBadSample": "skip"</c>): samples pair by dataset index,
/// only those both runs explained are compared, and comparison.json and the findings say how many were left out and why.
/// </summary>
public sealed class CompareSkippedTests
{
    /// <summary>Fashion-MNIST's classes, so that the folders' names are the models' class indices.</summary>
    private const string Classes = """["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]""";

    private const string Transforms = """[{ "grayscale": { } }, { "toTensor": { } }, { "normalize": { "mean": [0.286], "std": [0.353] } }]""";

    /// <summary>Two names among the 18 good images (sorted by path, each lands inside its class): corrupt in one run, a good image in another.</summary>
    private static readonly (string Name, string Good, string Corrupt)[] Swapped =
    [
        ("Bag/0019.png", "Bag/0018.png", "not_an_image.png"),
        ("Sneaker/0010.png", "Sneaker/0009.png", "truncated.jpg"),
    ];

    [Fact]
    public async Task Compare_RunsThatSkippedDifferentImages_ComparesTheCommonSamplesAsTheCleanFolderDoes()
    {
        var folder = TestPaths.NewFolder();
        var (seed0, seed1) = (TestPaths.Sample("model.pt"), TestPaths.Fixture("compare/seed1.pt"));

        // One folder, changed between runs: A's run finds the bag corrupt, B's the sneaker, C's neither (both repaired).
        var images = ImageSkipCliTests.CopyImages(Path.Combine(folder, "dirty"), withBad: false);
        Place(images, corrupt: 0);
        var a = await RunAsync(folder, images, "a", seed0);
        Place(images, corrupt: 1);
        var b = await RunAsync(folder, images, "b", seed1);
        Place(images, corrupt: null);
        var c = await RunAsync(folder, images, "c", seed1);
        // The independent path: the same two models on a folder of only the 18 images none of the runs skipped.
        var clean = ImageSkipCliTests.CopyImages(Path.Combine(folder, "clean"), withBad: false);
        var (cleanA, cleanB) = (await RunAsync(folder, clean, "clean-a", seed0), await RunAsync(folder, clean, "clean-b", seed1));

        var skipped = await CompareAsync(folder, a, b, "cmp");
        var plain = await CompareAsync(folder, cleanA, cleanB, "cmp-clean");

        Assert.True(skipped.Json["sameInputs"]!.GetValue<bool>());
        var leftOut = skipped.Json["leftOut"]!;
        Assert.Equal((2L, 1L, 1L, 0L), (leftOut["samples"]!.GetValue<long>(), leftOut["skippedA"]!.GetValue<long>(), leftOut["skippedB"]!.GetValue<long>(),
            leftOut["skippedBoth"]!.GetValue<long>()));
        const string line = "2 samples were left out of the paired comparison as unreadable images (\"onBadSample\": \"skip\"): 1 skipped in A, 1 in B (0 in both); every paired figure is over the samples both runs explained.";
        Assert.Contains(line, skipped.Stdout);
        Assert.Contains(line, skipped.Json["findings"]!.AsArray().Select(f => f!.GetValue<string>()));
        Assert.Null(plain.Json["leftOut"]);

        // Paired figures over the common samples equal the clean folder's: predictions, flips, classes, each method's agreement
        // (its samples' indices mapped to the clean folder's), the representation and activations both models give on them.
        var dirtyFiles = ImageSkipCliTests.ListedFiles(images);
        var cleanFiles = ImageSkipCliTests.ListedFiles(clean).Select(f => Path.GetRelativePath(clean, f)).ToArray();
        var toClean = dirtyFiles.Select(f => Array.IndexOf(cleanFiles, Path.GetRelativePath(images, f))).ToArray();
        Assert.Equal(18, toClean.Count(i => i >= 0));
        Assert.Equal(18L, plain.Json["predictions"]!["accuracyA"]!["n"]!.GetValue<long>());
        Assert.InRange(plain.Json["predictions"]!["accuracyA"]!["value"]!.GetValue<double>(), 0.5, 1); // labels the models read
        Assert.Equal(plain.Json["predictions"]!.ToJsonString(), skipped.Json["predictions"]!.ToJsonString());
        Assert.Equal(plain.Json["classes"]!.ToJsonString(), skipped.Json["classes"]!.ToJsonString());
        Assert.Equal(plain.Json["representation"]!.ToJsonString(), skipped.Json["representation"]!.ToJsonString());
        Assert.Equal(plain.Json["activations"]!.ToJsonString(), skipped.Json["activations"]!.ToJsonString());
        var (methodsA, methodsB) = (plain.Json["methods"]!.AsArray(), skipped.Json["methods"]!.AsArray());
        Assert.Equal(["grad-x-input", "saliency"], methodsB.Select(m => m!["method"]!.GetValue<string>()));
        foreach (var (expected, actual) in methodsA.Zip(methodsB))
        {
            Assert.Equal(18, actual!["samples"]!.GetValue<int>());
            foreach (var field in new[] { "spearman", "topOverlap", "ndcg", "perClass" })
                Assert.Equal(expected![field]!.ToJsonString(), actual[field]!.ToJsonString());
            var changed = actual["mostChanged"]!.DeepClone().AsArray();
            foreach (var s in changed) s!["index"] = toClean[s["index"]!.GetValue<long>()];
            Assert.Equal(expected!["mostChanged"]!.ToJsonString(), changed.ToJsonString());
        }

        // Skipped in A only: one sample left out, said so.
        var one = await CompareAsync(folder, a, c, "cmp-one");
        Assert.Equal((1L, 1L, 0L), (one.Json["leftOut"]!["samples"]!.GetValue<long>(), one.Json["leftOut"]!["skippedA"]!.GetValue<long>(),
            one.Json["leftOut"]!["skippedB"]!.GetValue<long>()));
        Assert.Equal(19L, one.Json["predictions"]!["accuracyA"]!["n"]!.GetValue<long>());
        Assert.Contains("1 sample was left out of the paired comparison as unreadable images (\"onBadSample\": \"skip\"): 1 skipped in A, 0 in B (0 in both)", one.Stdout);
    }

    /// <summary>
    /// The same comparison made by the candidate's own job (its <c>compare</c> block: the compare pass after its explanations)
    /// as by <c>explain compare</c> afterwards: the pass pairs the samples by dataset index past the skipped images as well.
    /// </summary>
    [Fact]
    public async Task Run_CompareBlockOnRunsThatSkippedImages_GivesTheComparisonThatExplainCompareGives()
    {
        var folder = TestPaths.NewFolder();
        var images = ImageSkipCliTests.CopyImages(Path.Combine(folder, "dirty"), withBad: false);
        Place(images, corrupt: 0);
        var a = await RunAsync(folder, images, "a", TestPaths.Sample("model.pt"));
        Place(images, corrupt: 1);
        var b = await RunAsync(folder, images, "b", TestPaths.Fixture("compare/seed1.pt"), $$""", "compare": { "baseline": "{{a}}" }""");
        var after = await CompareAsync(folder, a, b, "cmp");

        var inJob = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(b, "compare", "comparison.json")))!;
        Assert.Equal((2L, 1L, 1L), (inJob["leftOut"]!["samples"]!.GetValue<long>(), inJob["leftOut"]!["skippedA"]!.GetValue<long>(),
            inJob["leftOut"]!["skippedB"]!.GetValue<long>()));
        Assert.Equal(18L, inJob["predictions"]!["accuracyA"]!["n"]!.GetValue<long>());
        foreach (var field in new[] { "leftOut", "predictions", "classes", "methods", "representation", "activations", "findings" })
            Assert.Equal(after.Json[field]?.ToJsonString(), inJob[field]?.ToJsonString());
    }

    private static async Task<(JsonNode Json, string Stdout)> CompareAsync(string folder, string a, string b, string name)
    {
        var dir = Path.Combine(folder, name);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "compare", a, b, "--out", dir);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        return (JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "comparison.json")))!, run.Stdout);
    }

    /// <summary>The swapped names' files: a good image, or the corrupt fixture at <paramref name="corrupt"/>.</summary>
    private static void Place(string images, int? corrupt)
    {
        var small = TestPaths.Fixture("images/small");
        for (var i = 0; i < Swapped.Length; i++)
            File.Copy(i == corrupt ? TestPaths.Fixture($"images/corrupt/{Swapped[i].Corrupt}") : Path.Combine(small, Swapped[i].Good),
                Path.Combine(images, Swapped[i].Name), overwrite: true);
    }

    private static async Task<string> RunAsync(string folder, string images, string name, string model, string extra = "")
    {
        var job = Path.Combine(folder, $"{name}.json");
        await File.WriteAllTextAsync(job, $$"""
            {
              "model": { "uri": "{{model}}", "classes": {{Classes}} },
              "data": { "images": "{{images}}", "labels": "folders", "onBadSample": "skip", "transforms": {{Transforms}} },
              "methods": { "saliency": {}, "grad-x-input": {} },
              "shardSize": 8,
              "output": "{{name}}"{{extra}}
            }
            """);
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(3), "run", job);
        Assert.True(run.ExitCode == 0, run.ToString());
        return Path.Combine(folder, name);
    }
}
