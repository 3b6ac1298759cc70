using ExplainCluster.Analyzers;

namespace ExplainCluster.Tests.Build;

/// <summary>
/// EC0002 (<see cref="GradModeScopeAnalyzer"/>), which the engine and these tests build with: a gradient-mode scope that an
/// await falls inside is flagged on the scope's line, and scopes that end before the await, or whose await is in a lambda
/// that runs elsewhere, are not.
/// </summary>
public sealed class GradModeScopeAnalyzerTests
{
    private static async Task<int[]> FlaggedLinesAsync(string body)
    {
        var source = $$"""
            using System.Threading.Tasks;
            using TorchSharp;
            using static TorchSharp.torch;
            static class Snippet
            {
                static async Task Run(Tensor x, Task pending)
                {
            {{body}}
                }
            }
            """;
        return await AnalyzerSnippets.FlaggedLinesAsync(source, new GradModeScopeAnalyzer(), "EC0002", firstBodyLine: 7);
    }

    [Fact]
    public async Task AScopeThatAnAwaitFallsInside_IsFlaggedOnItsLine()
    {
        var lines = await FlaggedLinesAsync("""
                    using (no_grad()) { x.neg(); await pending; }
                    using (var g = enable_grad()) { if (x.requires_grad) { await Task.Yield(); } }
                    {
                        using var off = no_grad();
                        x.neg();
                        await pending;
                    }
                    using var inference = inference_mode();
                    await foreach (var i in Numbers()) { }
                    static async System.Collections.Generic.IAsyncEnumerable<int> Numbers() { await Task.Yield(); yield return 1; }
            """);
        Assert.Equal([1, 2, 4, 8], lines);
    }

    [Fact]
    public async Task ScopesThatEndBeforeTheAwait_OrAwaitInALambda_AreNot()
    {
        var lines = await FlaggedLinesAsync("""
                    await pending;
                    using (no_grad()) { x.neg(); }
                    {
                        using var off = no_grad();
                        x.neg();
                    }
                    await pending;
                    using (var s = 0.5.ToScalar()) { await pending; }
                    using var on = enable_grad();
                    System.Func<Task> later = async () => await pending;
            """);
        Assert.Empty(lines);
    }
}
