using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace ExplainCluster.Tests.Build;

/// <summary>Compiles a snippet against TorchSharp and runs one of the engine's analyzers on it.</summary>
internal static class AnalyzerSnippets
{
    /// <summary>
    /// The lines, counted from 1 at <paramref name="firstBodyLine"/> of <paramref name="source"/> (itself from 0), where
    /// <paramref name="analyzer"/> reports <paramref name="id"/>, each once, in order. The snippet must compile.
    /// </summary>
    public static async Task<int[]> FlaggedLinesAsync(string source, DiagnosticAnalyzer analyzer, string id, int firstBodyLine)
    {
        var references = AppDomain.CurrentDomain.GetAssemblies().Where(a => !a.IsDynamic && a.Location.Length > 0)
            .Select(a => MetadataReference.CreateFromFile(a.Location)).Append(MetadataReference.CreateFromFile(typeof(TorchSharp.torch).Assembly.Location));
        var compilation = CSharpCompilation.Create("snippet", [CSharpSyntaxTree.ParseText(source)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        Assert.Empty(compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        var diagnostics = await compilation.WithAnalyzers([analyzer]).GetAnalyzerDiagnosticsAsync();
        return [.. diagnostics.Where(d => d.Id == id).Select(d => d.Location.GetLineSpan().StartLinePosition.Line - firstBodyLine + 1).Distinct().Order()];
    }
}
