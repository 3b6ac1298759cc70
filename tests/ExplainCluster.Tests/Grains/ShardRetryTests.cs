using System.Runtime.InteropServices;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Grains;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Grains;

/// <summary>Which failed attempts a shard reports as worth another (<see cref="ShardGrain.IsRetryable"/>).</summary>
public sealed class ShardRetryTests
{
    /// <summary>libtorch's words when a Scalar was freed under it, as a silo logged them in a failed 1,000,000-row job.</summary>
    private const string FreedScalar =
        "Expected false to be true, but got false.  (Could this error message be improved?  If so, please report an enhancement request to PyTorch.)\n" +
        "Exception raised from toDouble at /pytorch/c10/core/Scalar.h:140 (most recent call first):\n" +
        "frame #0: c10::Error::Error(c10::SourceLocation, std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >) + 0xb0";

    [Fact]
    public void FreedScalar_IsRetried()
    {
        Assert.True(ShardGrain.IsRetryable(new ExternalException(FreedScalar)));
    }

    [Fact]
    public void OtherLibtorchErrors_FailTheJob()
    {
        // A real libtorch error, of tensors whose shapes do not broadcast: it would fail the same way again.
        using var a = ones(2, 3);
        using var b = ones(4, 5);
        var error = Assert.ThrowsAny<ExternalException>(() => a.Plus(b));
        Assert.Contains("must match", error.Message);
        Assert.False(ShardGrain.IsRetryable(error));
    }

    [Fact]
    public void DataFaults_FailTheJob_MachineFaults_AreRetried()
    {
        Assert.False(ShardGrain.IsRetryable(new ExplainException("data.table: row 3, column \"age\": \"x\" is not a number")));
        Assert.True(ShardGrain.IsRetryable(new IOException("connection reset")));
    }
}
