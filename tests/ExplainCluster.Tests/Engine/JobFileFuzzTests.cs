using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// Seeded mutations of a valid job file: the parser and the <c>explain run</c> command answer each with
/// success or one named line, never another exception, a stack trace or an exception type's name.
/// </summary>
[Collection(ConsoleCollection.Name)]
public class JobFileFuzzTests(ITestOutputHelper log)
{
    private const int Seed = 20261124;
    private const int ParseCases = 20000;
    private const int CliCases = 300;

    /// <summary>Text spliced into the job: JSON tokens of every type, edge numbers, unicode, escapes, deep nesting.</summary>
    private static readonly string[] Tokens =
    [
        "null", "true", "false", "0", "-1", "-0", "2.5", "1e400", "-1e400", "1e-400", "99999999999999999999999", "2147483648",
        "\"\"", "\"ü🙂\"", "\"\\u0000\"", "\"\\n\"", "\"\\ud800\"", "\"../../etc\"", "[]", "{}", "[1,", "{\"a\":", "\"", "\\", ",", ":",
        "//", "/*", "\u00e9", "\u2028", "\ud83d", "\0", new string('[', 200) + new string(']', 200), new string('9', 400),
    ];

    private static readonly string Base = TestPaths.FashionJob(
        "/nonexistent/explaincluster-fuzz/images.npy", "/nonexistent/explaincluster-fuzz/labels.npy", "/nonexistent/explaincluster-fuzz/out",
        extra: ", \"batchSize\": 64, \"target\": \"label\"");

    [Fact]
    public void Parse_MutatedJobs_OnlyExplainExceptionsOfOneLine()
    {
        var random = new Random(Seed);
        var folder = TestPaths.NewFolder();
        var failures = new List<string>();
        var (valid, watch) = (0, Stopwatch.StartNew());
        for (var i = 0; i < ParseCases; i++)
        {
            var json = Mutate(random);
            try
            {
                JobFile.Parse(json, folder);
                valid++;
            }
            catch (ExplainException e)
            {
                if (Problem(e.Message) is { } problem) failures.Add($"case {i}: {problem}: {e.Message}\n{json}");
            }
            catch (Exception e)
            {
                failures.Add($"case {i}: {e.GetType().Name}: {e.Message}\n{json}");
            }
        }
        log.WriteLine($"{ParseCases} cases in {watch.Elapsed.TotalSeconds:F2} s, {valid} valid");
        Assert.True(failures.Count == 0, $"{failures.Count} of {ParseCases} cases (seed {Seed}):\n{string.Join("\n\n", failures.Take(5))}");
        // The mutations reach past the JSON reader: some jobs stay valid, most fail on a named field.
        Assert.InRange(valid, 1, ParseCases / 2);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"{ParseCases} cases took {watch.Elapsed}");
    }

    [Fact]
    public async Task Cli_MutatedJobs_ExitOneWithOneErrorLine()
    {
        var random = new Random(Seed + 1);
        var folder = TestPaths.NewFolder();
        var path = Path.Combine(folder, "job.json");
        var (ran, validRun) = (0, 0);
        var watch = Stopwatch.StartNew();
        while (ran < CliCases)
        {
            var json = Mutate(random);
            var parses = true;
            try { JobFile.Parse(json, folder); }
            catch (ExplainException) { parses = false; }
            // A job that stays valid starts an embedded cluster (seconds) and fails on its missing data: ten are enough.
            if (parses && validRun++ >= 10) continue;
            await File.WriteAllTextAsync(path, json, Encoding.UTF8);
            var (exit, output, error) = await ConsoleCollection.RunCliAsync("run", path);
            var context = $"case {ran} (seed {Seed + 1}):\n{json}\nstdout: {output}\nstderr: {error}";
            Assert.True(exit == 1, $"exit {exit}, {context}");
            Assert.True(error.StartsWith("error: ", StringComparison.Ordinal), context);
            Assert.True(error.TrimEnd().Split('\n').Length == 1, context);
            Assert.True(Problem(error.TrimEnd()) is null, $"{Problem(error.TrimEnd())}: {context}");
            ran++;
        }
        log.WriteLine($"{CliCases} CLI cases in {watch.Elapsed.TotalSeconds:F2} s, {Math.Min(validRun, 10)} of them valid jobs on missing data");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"{CliCases} CLI cases took {watch.Elapsed}");
    }

    /// <summary>Why a message is not one named line, or null.</summary>
    private static string? Problem(string message) =>
        message.Length == 0 ? "empty"
        : message.Any(c => c is '\n' or '\r') ? "more than one line"
        : message.Contains("Exception", StringComparison.Ordinal) ? "names an exception type"
        : message.Contains("   at ", StringComparison.Ordinal) ? "carries a stack trace"
        : null;

    /// <summary>One to three mutations of the base job, structural (on its JSON tree) or textual.</summary>
    private static string Mutate(Random random)
    {
        var json = Base;
        for (var n = random.Next(1, 4); n > 0; n--)
            json = random.Next(3) == 0 && Tree(json) is { } tree ? MutateTree(random, tree) ?? MutateText(random, json) : MutateText(random, json);
        return json;
    }

    private static JsonNode? Tree(string json)
    {
        try { return JsonNode.Parse(json); }
        catch (Exception e) when (e is System.Text.Json.JsonException or ArgumentException) { return null; }
    }

    private static string MutateText(Random random, string json)
    {
        if (json.Length == 0) return Tokens[random.Next(Tokens.Length)];
        var at = random.Next(json.Length);
        var length = Math.Min(random.Next(1, 8), json.Length - at);
        return random.Next(5) switch
        {
            0 => json.Remove(at, length),
            1 => json.Insert(at, json.Substring(at, length)),
            2 => json.Remove(at, 1).Insert(at, ((char)random.Next(0x20, 0x7f)).ToString()),
            3 => json.Insert(at, Tokens[random.Next(Tokens.Length)]),
            _ => json[..at] + json[Math.Min(json.Length, at + random.Next(1, 200))..],
        };
    }

    /// <summary>Replaces, removes or renames one value somewhere in the job, or adds a field; null where the tree cannot be written back (a lone surrogate).</summary>
    private static string? MutateTree(Random random, JsonNode tree)
    {
        var nodes = new List<JsonNode>();
        Collect(tree, nodes);
        var target = nodes[random.Next(nodes.Count)];
        var parent = target.Parent;
        switch (random.Next(4), parent)
        {
            case (0, JsonObject o):
                o.Remove(target.GetPropertyName());
                break;
            case (1, JsonObject o):
                var name = target.GetPropertyName();
                o.Remove(name);
                o[RandomName(random, name)] = target;
                break;
            case (2, _) when target is JsonObject o:
                o[RandomName(random, "extra")] = RandomValue(random, 0);
                break;
            case (_, JsonObject o):
                o[target.GetPropertyName()] = RandomValue(random, 0);
                break;
            case (_, JsonArray a):
                a[a.IndexOf(target)] = RandomValue(random, 0);
                break;
            default:
                return RandomValue(random, 0)?.ToJsonString() ?? "null";
        }
        try { return tree.ToJsonString(); }
        catch (InvalidOperationException) { return null; }
    }

    private static void Collect(JsonNode node, List<JsonNode> nodes)
    {
        nodes.Add(node);
        var children = node switch
        {
            JsonObject o => o.Select(p => p.Value),
            JsonArray a => a.AsEnumerable(),
            _ => [],
        };
        foreach (var child in children)
            if (child is not null) Collect(child, nodes);
    }

    private static string RandomName(Random random, string name) => random.Next(4) switch
    {
        0 => name.ToUpperInvariant(),
        1 => name + "\u00e9",
        2 => "",
        _ => name[..(name.Length / 2)] + "\n" + name[(name.Length / 2)..],
    };

    private static JsonNode? RandomValue(Random random, int depth) => random.Next(depth < 3 ? 16 : 12) switch
    {
        0 => null,
        1 => JsonValue.Create(random.Next(2) == 0),
        2 => JsonValue.Create(random.Next(-3, 5)),
        3 => JsonNode.Parse(Tokens[random.Next(7, 11)]),
        4 => JsonValue.Create(random.NextDouble() * 2 - 1),
        5 => JsonValue.Create(""),
        6 => JsonValue.Create("ü🙂\u0000\n\t\"\\\r\n\u2028x"[..random.Next(1, 12)]),
        7 => JsonValue.Create("../../../etc/passwd"),
        8 => JsonValue.Create(new string('x', random.Next(1, 5000))),
        9 => JsonValue.Create("grad-cam"),
        10 => new JsonArray(),
        11 => new JsonObject(),
        12 or 13 => new JsonArray(RandomValue(random, depth + 1), RandomValue(random, depth + 1)),
        _ => new JsonObject { [RandomName(random, "saliency")] = RandomValue(random, depth + 1) },
    };
}
