using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

public class TorchSharpLoadTests
{
    [Fact]
    public void Backward_SquareSum_GradientIsTwiceInput()
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var x = tensor(new float[] { 1, -2, 3.5f }).requires_grad_(true);
        (x * x).sum().backward();
        Assert.Equal(new float[] { 2, -4, 7 }, x.grad!.data<float>().ToArray());
    }

    [Fact]
    public void BuildOutput_HasNoCpuFallbackCopy()
    {
        // When native loading fails TorchSharp copies ~500 MB into a cpu/ folder next to the app.
        _ = ones(1);
        Assert.False(Directory.Exists(Path.Combine(AppContext.BaseDirectory, "cpu")));
    }

    [Fact]
    public void Patch_OriginalLibrary_MarksGlibcxxWeakOnceThenIsIdempotent()
    {
        var original = Directory.GetFiles(
            Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages", "torchsharp"),
            "libLibTorchSharp.so", SearchOption.AllDirectories).First(p => p.Contains("linux-x64"));
        var copy = Path.Combine(Path.GetTempPath(), $"libLibTorchSharp-{Guid.NewGuid():N}.so");
        File.Copy(original, copy);
        try
        {
            Assert.Equal("marked weak", MarkGlibcxxVersionWeak.Patch(copy, "GLIBCXX_3.4.32"));
            Assert.Equal("already weak", MarkGlibcxxVersionWeak.Patch(copy, "GLIBCXX_3.4.32"));
            Assert.Equal("no such version requirement", MarkGlibcxxVersionWeak.Patch(copy, "GLIBCXX_9.9.99"));
            var patched = File.ReadAllBytes(copy);
            var source = File.ReadAllBytes(original);
            Assert.Equal(source.Length, patched.Length);
            Assert.Equal(1, source.Zip(patched).Count(p => p.First != p.Second));
        }
        finally
        {
            File.Delete(copy);
        }
    }
}
