using ExplainCluster.Analyzers;

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
        return await AnalyzerSnippets.FlaggedLinesAsync(source, new ImplicitScalarAnalyzer(), "EC0001", firstBodyLine: 7);
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
