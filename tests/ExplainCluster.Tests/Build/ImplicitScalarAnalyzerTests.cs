using System.Collections.Immutable;
using ExplainCluster.Analyzers;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace ExplainCluster.Tests.Build;

/// <summary>
/// EC0001 (<see cref="ImplicitScalarAnalyzer"/>), which the engine builds with: each way of making a torch Scalar that nothing
/// holds is flagged on its line, and the rooted forms the engine uses are not.
/// </summary>
public sealed class ImplicitScalarAnalyzerTests
{
    private static async Task<int[]> FlaggedLinesAsync(string body)
    {
        var source = $$"""
            using TorchSharp;
            using static TorchSharp.torch;
            static class Snippet
            {
                static readonly Scalar One = 1.ToScalar();
                static void Run(Tensor x, Tensor y)
                {
            {{body}}
                }
            }
            """;
        var references = AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Select(a => MetadataReference.CreateFromFile(a.Location)).Append(MetadataReference.CreateFromFile(typeof(TorchSharp.torch).Assembly.Location));
        var compilation = CSharpCompilation.Create("snippet", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var diagnostics = await compilation.WithAnalyzers([new ImplicitScalarAnalyzer()]).GetAnalyzerDiagnosticsAsync();
        // Line 8 of the source is the body's first; a line may break the rule twice (arange(10): the 10, and the start it leaves out).
        return [.. diagnostics.Where(d => d.Id == "EC0001").Select(d => d.Location.GetLineSpan().StartLinePosition.Line - 6).Distinct().Order()];
    }

    [Fact]
    public async Task EachUnheldScalar_IsFlaggedOnItsLine()
    {
        var lines = await FlaggedLinesAsync("""
                    var a = x * 0.5;
                    var b = x + y;
                    var c = 1 - x;
                    var d = x.square();
                    var e = x.clamp_max(3.0);
                    var f = x.add(y);
                    var g = arange(10);
            """);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], lines);
    }

    [Fact]
    public async Task RootedScalars_AndTensorOnlyArithmetic_AreNot()
    {
        var lines = await FlaggedLinesAsync("""
                    var a = x.mul(One);
                    var b = x.add(y, One);
                    var c = x.neg().add_(One, One);
                    var d = x * y - y;
                    using (var s = 0.5.ToScalar()) { var e = x.clamp_max(s); }
            """);
        Assert.Empty(lines);
    }
}
