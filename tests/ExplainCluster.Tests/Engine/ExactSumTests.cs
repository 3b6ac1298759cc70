using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Tests.Engine;

public class ExactSumTests
{
    private static double Sum(IEnumerable<double> values)
    {
        var sum = new ExactSum();
        foreach (var v in values) sum.Add(v);
        return sum.Value;
    }

    [Theory]
    // Python's math.fsum on the same terms (its documentation's and test suite's examples).
    [InlineData(new[] { 1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50 }, 1e-100)]
    [InlineData(new[] { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 }, 1.0)]
    [InlineData(new[] { 1.0, 1e-16, 1e-16 }, 1.0000000000000002)] // left to right in double: 1.0
    [InlineData(new[] { 2.0, -1e-16, -1e-16 }, 1.9999999999999998)]
    [InlineData(new double[0], 0.0)]
    public void Value_IsTheCorrectlyRoundedSum(double[] terms, double expected) => Assert.Equal(expected, Sum(terms));

    [Fact]
    public void Add_AnyGroupingAndOrder_SameBits()
    {
        var random = new Random(7);
        var terms = Enumerable.Range(0, 500).Select(_ => (random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-12, 12))).ToArray();
        var whole = Sum(terms);
        // Shards of several sizes, each summed alone and then folded in order; and the terms reversed.
        foreach (var size in new[] { 1, 7, 64, 499 })
        {
            var folded = new ExactSum();
            foreach (var chunk in terms.Chunk(size))
            {
                var part = new ExactSum();
                foreach (var t in chunk) part.Add(t);
                folded.Add(ExactSum.Of(part.Partials));
            }
            Assert.Equal(BitConverter.DoubleToInt64Bits(whole), BitConverter.DoubleToInt64Bits(folded.Value));
        }
        Assert.Equal(whole, Sum(terms.Reverse()));
        // Taking a part away leaves exactly the rest's sum.
        var all = new ExactSum();
        foreach (var t in terms) all.Add(t);
        var head = new ExactSum();
        foreach (var t in terms[..100]) head.Add(t);
        all.Add(head, -1);
        Assert.Equal(Sum(terms[100..]), all.Value);
    }
}
