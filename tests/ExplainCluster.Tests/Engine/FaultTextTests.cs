using ExplainCluster.Engine;

namespace ExplainCluster.Tests.Engine;

/// <summary>What a job's error says of an unexpected exception: one line that says something, never a backtrace.</summary>
public class FaultTextTests
{
    [Fact]
    public void Line_OfLibtorchsGenericCheck_IsTheLineAfterIt()
    {
        var e = new System.Runtime.InteropServices.ExternalException(
            "Expected false to be true, but got false.  (Could this error message be improved?  If so, please report an enhancement request to PyTorch.)\n" +
            "\"addmm_impl_cpu_\" not implemented for 'Half'\nException raised from operator() at /pytorch/aten/src/ATen/native/LinearAlgebra.cpp:1466 (most recent call first):\nframe #0: c10::Error::Error");
        Assert.Equal("libtorch: \"addmm_impl_cpu_\" not implemented for 'Half'", FaultText.Line(e));
        Assert.Equal("Expected false to be true, but got false.", FaultText.Line(new InvalidOperationException("Expected false to be true, but got false.\nException raised from x\nframe #0: y")));
        Assert.Equal("plain", FaultText.Line(new InvalidOperationException("plain\nsecond")));
    }
}
