using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary><see cref="Gradients.Of"/>: autograd.grad's gradients, or an exception where libtorch's error would end the process.</summary>
public sealed class GradientsTests
{
    [Fact]
    public void OutputThatDependsOnTheInput_GradientsAsAutogradGives()
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var x = tensor(new[] { 1.0, 2.0, 3.0 }).requires_grad_(true);
        var y = (x * x).sum();
        Assert.Equal([2.0, 4.0, 6.0], Gradients.Of("the sum of squares", [y], [x])[0].data<double>().ToArray());
    }

    [Fact]
    public void OutputWithNoGradientFunction_IsAnException_NotTheProcessEnded()
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var x = tensor(new[] { 1.0, 2.0 }).requires_grad_(true);
        var constant = tensor(new[] { 5.0 }).sum();
        var error = Assert.Throws<InvalidOperationException>(() => Gradients.Of("the constant", [constant], [x]));
        Assert.Equal("the constant do not depend on what they are differentiated with respect to (no gradient function; gradients enabled on this thread)", error.Message);
    }
}
