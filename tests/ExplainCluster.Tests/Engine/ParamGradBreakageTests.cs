using System.IO.Compression;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Tests.Infrastructure;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// Models built to break the param-grads code reader (tests/fixtures/paramgrad_break, made by
/// tools/make_paramgrad_breakers.py): each gives per-sample gradient norms equal to the per-sample loop over the
/// model itself (<see cref="ParamGradTests.Loop"/>, relative error ≤ <see cref="ParamGradTests.Tolerance"/>), with
/// each layer vectorised or falling back for a stated reason — never an exception.
/// </summary>
public class ParamGradBreakageTests(ITestOutputHelper output)
{
    /// <param name="vectorised">Per selected layer in module order: 'v' vectorised, 'l' a per-sample loop.</param>
    /// <param name="reason">A part of every looping layer's reason.</param>
    [Theory]
    // A user class named Linear that doubles F.linear: run as itself (its own code), not as nn.Linear.
    [InlineData("user_linear.pt", "fc1 fc2", "lv", "__torch__.Linear, per-sample loop: its own parameters are used by its code")]
    // A user class named ReLU that is SiLU: run as itself; it has no parameters, so both Linears stay vectorised.
    [InlineData("user_relu.pt", "fc1 fc2", "vv", null)]
    // relu_, mul_, += on layer outputs and nn.ReLU(inplace=True) read under two names: in-place meaning kept, all vectorised.
    [InlineData("inplace.pt", "fc1 fc2 skip head", "vvvv", null)]
    // The same model with an unused code file the old reader threw IndexOutOfRangeException on.
    [InlineData("junk_code.pt", "fc1 fc2 skip head", "vvvv", null)]
    // Tuple unpacking, a ModuleList loop, nested parentheses: read; the child whose ternary is an `if` loops alone.
    [InlineData("unusual.pt", "inp blocks.0 blocks.1 blocks.2 gate.fc head", "vvvvlv", "inside \"gate\", which runs as itself (__torch__.Gate.forward has control flow")]
    // The root class's name is longer than the reader looks for in data.pkl: nothing is read, the whole model loops.
    [InlineData("unparsable.pt", "fc1 fc2", "ll", "the archive's code cannot be read (FormatException: data.pkl's root class is cut short)")]
    public void SquaredNorms_ModelBuiltToBreakTheReader_MatchTheLoopOrSayWhyTheyLoop(string model, string names, string vectorised, string? reason)
    {
        using var scope = NewDisposeScope();
        var path = TestPaths.Fixture(Path.Combine("paramgrad_break", model));
        var (x, y) = Images(6);
        using var grads = ParameterGradients.Create(path, CPU);
        var result = grads.Compute(x, y);
        foreach (var l in grads.Layers) output.WriteLine($"{l.Name}: {l.Parameters} {l.How}");
        ParamGradTests.AssertClose(output, ParamGradTests.Loop(path, x, y, grads.Layers).Norms, result.SquaredNorms, model);
        Assert.Equal(names.Split(' '), grads.Layers.Select(l => l.Name));
        Assert.Equal(vectorised, string.Concat(grads.Layers.Select(l => l.Vectorised ? 'v' : 'l')));
        foreach (var l in grads.Layers.Where(l => !l.Vectorised)) Assert.Contains(reason!, l.How);
    }

    [Fact]
    public void SquaredNorms_WrongFastPath_TheGradientCheckFallsBackAndTheNormsMatchTheLoop()
    {
        // Logits alone cannot see this: the forward is right, only the vectorised norms are 1% off.
        using var scope = NewDisposeScope();
        var path = TestPaths.Fixture(Path.Combine("paramgrad_break", "inplace.pt"));
        var (x, y) = Images(5);
        var loop = ParamGradTests.Loop(path, x, y, [.. "fc1 fc2 skip head".Split(' ').Select(n => new ParameterLayer(n, 0, true, ""))]).Norms;

        using var wrong = ParameterGradients.Create(path, CPU, null, null, 256L << 20, distortForTests: n => n * 1.01f);
        var fallback = wrong.Compute(x, y);
        foreach (var l in wrong.Layers) output.WriteLine($"{l.Name}: {l.How}");
        Assert.All(wrong.Layers, l => Assert.False(l.Vectorised));
        Assert.All(wrong.Layers, l => Assert.Contains("whole model as one unit: the vectorised gradients of the first rows differ from a per-sample loop", l.How));
        ParamGradTests.AssertClose(output, loop, fallback.SquaredNorms, "after the fallback");

        // A distortion within float32 noise passes, and its rows are the loop's.
        using var noise = ParameterGradients.Create(path, CPU, null, null, 256L << 20, distortForTests: n => n * (1 + 1e-6f));
        ParamGradTests.AssertClose(output, loop, noise.Compute(x, y).SquaredNorms, "within noise");
        Assert.All(noise.Layers, l => Assert.True(l.Vectorised, l.How));
    }

    [Fact]
    public void SquaredNorms_WrongFastPathWithProjection_FallsBackAndTheProjectionIsTheLoops()
    {
        using var scope = NewDisposeScope();
        var path = TestPaths.Fixture(Path.Combine("paramgrad_break", "unusual.pt"));
        var (x, y) = Images(4);
        using var wrong = ParameterGradients.Create(path, CPU, null, (8, 3), 256L << 20, distortForTests: n => n * 0.9f);
        var result = wrong.Compute(x, y);
        Assert.All(wrong.Layers, l => Assert.False(l.Vectorised));
        var expected = ParamGradTests.Loop(path, x, y, wrong.Layers).Flat.matmul(wrong.ProjectionMatrix().to(ScalarType.Float64));
        ParamGradTests.AssertClose(output, expected, result.Projected!, "projection after the fallback");
    }

    [Fact]
    public void ExpressionParser_EveryPrefixOfEveryFixtureLine_ParsesOrSaysFormatException()
    {
        // The reader is total: text cut anywhere (unbalanced brackets, strings cut short, a trailing comma) is a
        // FormatException with a reason, which makes the module fall back; no other exception escapes.
        var (lines, parsed, refused) = (0, 0, 0);
        foreach (var (_, text) in CodeFiles())
            foreach (var line in text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).Distinct())
            {
                lines++;
                for (var cut = 1; cut <= line.Length; cut++)
                {
                    try
                    {
                        ExpressionParser.Parse(line[..cut]);
                        parsed++;
                    }
                    catch (FormatException e)
                    {
                        Assert.False(string.IsNullOrWhiteSpace(e.Message));
                        refused++;
                    }
                }
            }
        output.WriteLine($"{lines} lines: {parsed} prefixes parsed, {refused} refused");
        Assert.True(lines > 200 && parsed > 1000 && refused > 10000);
    }

    [Fact]
    public void ParseFile_FixtureCodeCutAtEveryLine_KeepsEveryClassOrItsProblem()
    {
        var files = 0;
        foreach (var (module, text) in CodeFiles())
        {
            files++;
            var whole = ScriptCode.ParseFile(module, text).ToList();
            Assert.All(whole, c => Assert.Null(c.Problem));
            var lines = text.Split('\n');
            for (var cut = 1; cut < lines.Length; cut++)
            {
                // Cut mid-line too: the statement loses its second half.
                var head = string.Join('\n', lines[..cut]) + '\n' + lines[cut][..(lines[cut].Length / 2)];
                var classes = ScriptCode.ParseFile(module, head).ToList();
                Assert.True(classes.Count <= whole.Count);
            }
        }
        Assert.True(files >= 10, $"{files} code files");
    }

    [Fact]
    public void Qualified_MangledAndUserClasses_AreToldApart()
    {
        var code = ScriptCode.Read(TestPaths.Fixture(Path.Combine("paramgrad_break", "user_linear.pt")));
        var qualified = code.Classes.Values.Select(c => c.Qualified).ToHashSet();
        Assert.Contains("__torch__.Linear", qualified);
        Assert.Contains("__torch__.torch.nn.modules.linear.Linear", qualified);
        Assert.All(code.Classes.Values.Where(c => c.Kind == "Linear"), c => Assert.Equal(c.Qualified == "__torch__.Linear", LeafConfig.Of(c, out _) is null));
    }

    /// <summary>(module, text) of every code file in the breakage fixtures and the ResNet-18 fixtures.</summary>
    private static IEnumerable<(string Module, string Text)> CodeFiles()
    {
        var archives = Directory.GetFiles(TestPaths.Fixture("paramgrad_break"), "*.pt")
            .Concat([TestPaths.Fixture("torchvision/resnet18_scripted.pt"), TestPaths.Fixture("torchvision/resnet18_traced.pt")]);
        foreach (var archive in archives)
        {
            using var zip = ZipFile.OpenRead(archive);
            foreach (var entry in zip.Entries.Where(e => e.FullName.Contains("/code/__torch__") && e.FullName.EndsWith(".py", StringComparison.Ordinal)))
            {
                using var reader = new StreamReader(entry.Open());
                yield return (entry.FullName, reader.ReadToEnd());
            }
        }
    }

    private static (Tensor X, Tensor Y) Images(int n)
    {
        using var generator = new Generator(11);
        return (randn([n, 1, 28, 28], generator: generator), randint(10, [n], generator: generator));
    }
}
