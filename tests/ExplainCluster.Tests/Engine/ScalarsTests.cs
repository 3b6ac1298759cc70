using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// Each rooted helper of <see cref="Scalars"/> against the TorchSharp expression it replaced on the engine's paths (the
/// operator or the call with an implicit Scalar): the same dtype and the same values exactly, so rooting changed no output.
/// </summary>
public sealed class ScalarsTests
{
    private static Tensor Floats(ScalarType dtype) => randn([5, 7], dtype, generator: new Generator(7)) * 3;

    private static Tensor Integers() => randint(-20, 20, [5, 7], ScalarType.Int64, generator: new Generator(8));

    private static void Same(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.dtype, actual.dtype);
        Assert.Equal(expected.shape, actual.shape);
        Assert.Equal(expected.cpu().to(ScalarType.Float64).data<double>().ToArray(), actual.cpu().to(ScalarType.Float64).data<double>().ToArray());
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float64)]
    public void Floating_point_helpers_compute_what_the_operators_did(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var (x, y) = (Floats(dtype), Floats(dtype).flip(0));
        Same(x + y, x.Plus(y));
        Same(x.clone().add_(y), x.clone().Accumulate(y));
        Same(x + 1e-7, x.Plus(1e-7));
        Same(x + 3, x.Plus(3));
        Same(x - 1e7, x.Minus(1e7));
        Same(x - 5, x.Minus(5));
        Same(9 - x, x.SubtractedFrom(9));
        Same(1 - x, x.OneMinus());
        Same(x * 0.37, x.Times(0.37));
        Same(2 * x, x.Times(2));
        Same(x / 7, x.DividedBy(7));
        Same(x / 0.3, x.DividedBy(0.3));
        Same(x.square(), x.Squared());
        Same(x.clamp_min(1), x.AtLeast(1));
        Same(x.clamp_min(0.25), x.AtLeast(0.25));
        Same(x.ne(0), x.IsNonZero());
        Same(x.gt(0), x.IsPositive());
        Same(full_like(x, 0.1), x.FullLike(0.1));
        Same(full_like(x, double.NaN).isnan(), x.FullLike(double.NaN).isnan());
    }

    [Fact]
    public void Integer_helpers_keep_integer_arithmetic()
    {
        using var scope = NewDisposeScope();
        var x = Integers();
        Same(x + 4, x.Plus(4));
        Same(x * 3, x.Times(3));
        Same(x / 6, x.DividedBy(6)); // true division: a float tensor
        Same(x.div(6, RoundingMode.floor), x.FloorDivided(6));
        Same(x.remainder(6), x.Modulo(6));
        Same(x < 5, x.LessThan(5));
        Same(x >= -3, x.GreaterOrEqual(-3));
        Same(17 - x, x.SubtractedFrom(17));
        Same(x - 2, x.Minus(2));
        Same(x.clamp_min(0), x.AtLeast(0));
        Same(x.eq(0), x.IsZero());
    }

    [Fact]
    public void Range_is_arange()
    {
        using var scope = NewDisposeScope();
        Same(arange(7), Scalars.Range(0, 7));
        Same(arange(3, 11, ScalarType.Int64), Scalars.Range(3, 11, ScalarType.Int64));
        Same(arange(1, 6, ScalarType.Float64), Scalars.Range(1, 6, ScalarType.Float64));
        Assert.Equal(0, Scalars.Range(4, 4).numel());
    }
}
