using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Grains;

/// <summary>
/// TCAV through the cluster on the fixture of tools/make_tcav_fixture.py, whose class 0 is read from a stripe detector at layer "1":
/// the concepts pass trains the CAVs once, the explain pass counts the signs, and summary.json and the report carry the scores.
/// </summary>
public class TcavJobTests(OneSiloCluster one) : IClassFixture<OneSiloCluster>
{
    private static string Fixture(string name) => TestPaths.Fixture($"tcav/{name}").Replace("\\", "/");

    public static string Job(string output, int shardSize, string concepts = "") => $$"""
        {
          "model": { "uri": "{{Fixture("model.pt")}}" },
          "data": { "inputs": "{{Fixture("inputs.npy")}}" },
          "methods": { "saliency": {} },
          "shardSize": {{shardSize}},
          "batchSize": 8,
          "concepts": {{(concepts.Length > 0 ? concepts : Concepts)}},
          "output": "{{output.Replace("\\", "/")}}"
        }
        """;

    private static string Concepts => $$"""
        { "layer": "1", "sets": { "striped": "{{Fixture("striped.npy")}}", "noise": "{{Fixture("noise.npy")}}" }, "random": "{{Fixture("random.npy")}}", "runs": 20, "seed": 1 }
        """;

    [Fact]
    public async Task Run_ConceptThatDrivesAClass_ScoresOneThereAndNoiseIsNotSignificant_ShardedAsSingle()
    {
        var folder = TestPaths.NewFolder();
        var (single, sharded) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        foreach (var (output, size) in new[] { (single, 90), (sharded, 16) })
        {
            var status = await Jobs.RunAsync(one.Grains, Job(output, size), folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        }
        // Counts folded in shard order from the same CAVs: the summary is the same to the bit (six shards against one).
        Assert.Equal(Jobs.Summary(single), Jobs.Summary(sharded));

        using var summary = Jobs.ReadJson(Path.Combine(single, "summary.json"));
        var tcav = summary.RootElement.GetProperty("concepts");
        Assert.Equal("1", tcav.GetProperty("layer").GetString());
        Assert.Equal(20, tcav.GetProperty("runs").GetInt32());
        Assert.Equal(30, tcav.GetProperty("examples").GetInt32()); // the smallest set, at most half the 400 random examples
        Assert.Equal(0.025, tcav.GetProperty("correctedAlpha").GetDouble(), 12);
        var accuracy = tcav.GetProperty("accuracy").EnumerateArray().ToDictionary(a => a.GetProperty("concept").GetString()!, a => a.GetProperty("mean").GetDouble());
        Assert.Equal(1, accuracy["striped"]); // the stripe detector separates the concept from noise

        // Each set's examples and the SHA-256 of their values: here the .npy files' float32 payloads, read on their own.
        var sets = tcav.GetProperty("sets").EnumerateArray().ToArray();
        Assert.Equal(["striped", "noise", "random"], sets.Select(s => s.GetProperty("name").GetString()));
        foreach (var (set, examples) in sets.Zip([30, 200, 400]))
        {
            var values = await NpyFiles.ReadFloatsAsync(TestPaths.Fixture($"tcav/{set.GetProperty("name").GetString()}.npy"));
            Assert.Equal(examples, set.GetProperty("examples").GetInt32());
            Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()))),
                set.GetProperty("sha256").GetString());
        }

        var classes = tcav.GetProperty("classes").EnumerateArray().ToArray();
        Assert.Equal([0, 1, 2], classes.Select(c => c.GetProperty("class").GetInt32()));
        Assert.Equal(90, classes.Sum(c => c.GetProperty("n").GetInt64()));
        var zero = classes[0];
        JsonElement Concept(JsonElement c, string name) => c.GetProperty("concepts").EnumerateArray().Single(k => k.GetProperty("concept").GetString() == name);
        // Class 0's logit is 2·relu(h₀) − 2, and the striped CAV points along h₀: every sample's derivative is positive, in every run.
        var striped = Concept(zero, "striped");
        Assert.All(striped.GetProperty("scores").EnumerateArray(), s => Assert.Equal(1, s.GetDouble()));
        Assert.True(striped.GetProperty("significant").GetBoolean());
        Assert.True(striped.GetProperty("p").GetDouble() < 0.025);
        // Noise is no concept: its CAVs are random directions, like the control's, and no class's scores differ from those.
        foreach (var c in classes)
        {
            var noise = Concept(c, "noise");
            Assert.False(noise.GetProperty("significant").GetBoolean(), $"noise for class {c.GetProperty("class")}: p {noise.GetProperty("p")}");
            Assert.InRange(noise.GetProperty("mean").GetDouble(), 0.2, 0.8);
            Assert.InRange(c.GetProperty("random").GetProperty("mean").GetDouble(), 0.2, 0.8);
        }

        // The manifest records the draws' seed with the job's others.
        using var manifest = Jobs.ReadJson(Path.Combine(single, "manifest.json"));
        Assert.Equal(1, manifest.RootElement.GetProperty("seeds").GetProperty("concepts.seed").GetInt64());

        // The finding that leads the report and evidence.json.
        using var evidence = Jobs.ReadJson(Path.Combine(single, "evidence.json"));
        var finding = evidence.RootElement.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("topic").GetString() == "concepts");
        Assert.Contains("striped raises 0 (TCAV score 1.00 against ", finding.GetProperty("text").GetString());

        var html = await File.ReadAllTextAsync(Path.Combine(single, "report.html"));
        Assert.Contains("<h3>Concepts (TCAV)</h3>", html);
        Assert.Contains("<b>Significant:</b> striped for class 0 (score 1.00", html);
        Assert.Contains("<td>1.00 ± 0.00, p ", html);
    }

    /// <summary>Concept sets as folders of images, read with the job's transforms like the data: the same CAVs' accuracy and class 0's score.</summary>
    [Fact]
    public async Task Run_ImageFolderConcepts_ReadWithTheJobsTransforms()
    {
        var folder = TestPaths.NewFolder();
        var output = Path.Combine(folder, "out");
        // The data as images too (the striped and random PNGs), decoded to [1, 4, 4] and normalised back to the arrays' values: (v/255 − 0.502) / 0.251.
        var json = $$"""
            {
              "model": { "uri": "{{Fixture("model.pt")}}" },
              "data": { "images": "{{Fixture("")}}", "transforms": [{ "grayscale": {} }, { "toTensor": {} }, { "normalize": { "mean": [0.50196], "std": [0.25098] } }] },
              "methods": { "saliency": {} },
              "batchSize": 8,
              "concepts": { "layer": "1", "sets": { "striped": "{{Fixture("striped")}}" }, "random": "{{Fixture("random")}}", "runs": 4 },
              "output": "{{output.Replace("\\", "/")}}"
            }
            """;
        var status = await Jobs.RunAsync(one.Grains, json, folder);
        Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        using var summary = Jobs.ReadJson(Path.Combine(output, "summary.json"));
        var tcav = summary.RootElement.GetProperty("concepts");
        Assert.Equal(1, tcav.GetProperty("accuracy")[0].GetProperty("mean").GetDouble());
        var zero = tcav.GetProperty("classes").EnumerateArray().Single(c => c.GetProperty("class").GetInt32() == 0);
        Assert.All(zero.GetProperty("concepts")[0].GetProperty("scores").EnumerateArray(), s => Assert.Equal(1, s.GetDouble()));
    }
}

/// <summary>A bad concepts block through <c>explain run</c>: exit code 1, one line on stderr naming the field and the problem, nothing marked complete.</summary>
public sealed class TcavBadInputCliTests
{
    [Theory]
    [InlineData("missing", "error: concepts.sets.striped: missing.npy does not exist")]
    [InlineData("few", "error: concepts.sets.few: 3 examples; at least 5 are needed")]
    [InlineData("layer", "error: concepts.layer: unknown layer \"9\": use a child of a model whose forward chains its children")]
    [InlineData("field", "error: concepts.epochs: unknown field")]
    [InlineData("folder", "error: concepts.sets.striped: striped is read as a folder of images, which needs image data (data.images); give a .npy array of samples instead")]
    [InlineData("examples", "error: concepts.examples: 35, but concepts.sets.striped has 30 examples")]
    public async Task Run_BadConceptsBlock_FailsInOneLine(string problem, string expected)
    {
        var folder = TestPaths.NewFolder();
        var striped = TestPaths.Fixture("tcav/striped.npy").Replace("\\", "/");
        var random = TestPaths.Fixture("tcav/random.npy").Replace("\\", "/");
        if (problem == "few")
        {
            var values = await NpyFiles.ReadFloatsAsync(striped);
            await File.WriteAllBytesAsync(Path.Combine(folder, "few.npy"), NpyFormat.Encode(values[..48], [3, 1, 4, 4]));
        }
        var concepts = problem switch
        {
            "missing" => $$"""{ "layer": "1", "sets": { "striped": "missing.npy" }, "random": "{{random}}" }""",
            "few" => $$"""{ "layer": "1", "sets": { "striped": "{{striped}}", "few": "few.npy" }, "random": "{{random}}" }""",
            "layer" => $$"""{ "layer": "9", "sets": { "striped": "{{striped}}" }, "random": "{{random}}" }""",
            "field" => $$"""{ "layer": "1", "sets": { "striped": "{{striped}}" }, "random": "{{random}}", "epochs": 3 }""",
            "folder" => $$"""{ "layer": "1", "sets": { "striped": "striped" }, "random": "{{random}}" }""",
            _ => $$"""{ "layer": "1", "sets": { "striped": "{{striped}}" }, "random": "{{random}}", "examples": 35 }""",
        };
        var job = Path.Combine(folder, "job.json");
        await File.WriteAllTextAsync(job, TcavJobTests.Job("out", 1024, concepts));
        var run = await CliResult.RunAsync(TimeSpan.FromMinutes(2), "run", job);
        Assert.True(run.ExitCode == 1, run.ToString());
        var error = Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.StartsWith(expected, error);
        Assert.DoesNotContain("Exception", run.Stdout + run.Stderr);
        Assert.DoesNotContain("   at ", run.Stdout + run.Stderr);
        Assert.False(File.Exists(Path.Combine(folder, "out", "summary.json")));
        var manifest = Path.Combine(folder, "out", "manifest.json");
        if (File.Exists(manifest))
        {
            using var doc = JsonDocument.Parse(await File.ReadAllBytesAsync(manifest));
            Assert.Equal("failed", doc.RootElement.GetProperty("status").GetString());
        }
    }
}

/// <summary>TCAV on three silos: one silo trains the CAVs, the shards on every silo read its staged file, and the summary equals a one-shard run's.</summary>
public class TcavThreeSiloTests(ThreeSiloCluster three) : IClassFixture<ThreeSiloCluster>
{
    [Fact]
    public async Task Run_ShardsOnThreeSilos_SameSummaryAsOneShard()
    {
        var folder = TestPaths.NewFolder();
        var (single, sharded) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        var one = await Jobs.RunAsync(three.Grains, TcavJobTests.Job(single, 90), folder);
        var many = await Jobs.RunAsync(three.Grains, TcavJobTests.Job(sharded, 8), folder);
        Assert.True(one.State == JobState.Completed && many.State == JobState.Completed, $"{one.Error} {many.Error}");
        Assert.True(many.ShardsPerSilo.Count > 1, string.Join(", ", many.ShardsPerSilo));
        Assert.Equal(Jobs.Summary(single), Jobs.Summary(sharded));
    }
}
