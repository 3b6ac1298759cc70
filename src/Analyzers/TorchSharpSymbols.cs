using Microsoft.CodeAnalysis;

namespace ExplainCluster.Analyzers;

/// <summary>What the engine's analyzers ask of a symbol.</summary>
internal static class TorchSharpSymbols
{
    /// <summary>Whether <paramref name="method"/> is declared by TorchSharp (its type in TorchSharp's namespaces).</summary>
    public static bool Declares(IMethodSymbol method) =>
        method.ContainingType?.ContainingNamespace?.ToDisplayString().StartsWith("TorchSharp") == true;
}
