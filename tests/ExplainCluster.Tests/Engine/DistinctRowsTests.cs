using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// <see cref="DistinctRows"/>: each coalition row is, bit for bit, the row forwarded in its place; the rows forwarded for a
/// background row are distinct from each other; on credit_data's real vectors most of kernel-shap's rows repeat. Rows of 5
/// floats (fewer than a vector's lanes), 26 (vectors that overlap at the row's end), 20 and 64.
/// </summary>
public sealed class DistinctRowsTests
{
    /// <summary>Finds the distinct rows; every row written plainly must equal, bit for bit, the row forwarded in its place.</summary>
    private static DistinctRows AssertEachRowIsTheOneForwarded(FeatureGroups groups, byte[] masks, int m, float[] x, float[] background)
    {
        var (width, rows) = (groups.Width, background.Length / groups.Width);
        var distinct = new DistinctRows(groups, background);
        Assert.True(distinct.Find(masks, m, x));
        var plain = new float[m * rows * width];
        new CoalitionRows(groups, masks, x, background).Write(0, m * rows, plain);
        var forwarded = new float[distinct.Count * width];
        for (var start = 0; start < distinct.Count; start += 37)
            distinct.Write(start, Math.Min(37, distinct.Count - start), forwarded.AsSpan(start * width));
        Assert.Equal(m * rows, distinct.Of.Length);
        for (var r = 0; r < m * rows; r++)
            Assert.True(plain.AsSpan(r * width, width).SequenceEqual(forwarded.AsSpan(distinct.Of[r] * width, width)), $"row {r}");
        // No vector is forwarded twice for the same background row, and every forwarded row stands for some row.
        for (var b = 0; b < rows; b++)
        {
            var own = Enumerable.Range(0, m).Select(c => distinct.Of[c * rows + b]).Distinct()
                .Select(i => string.Join(',', forwarded.AsSpan(i * width, width).ToArray().Select(BitConverter.SingleToInt32Bits))).ToList();
            Assert.Equal(own.Count, own.Distinct().Count());
        }
        Assert.Equal(Enumerable.Range(0, distinct.Count), distinct.Of.Distinct().Order());
        return distinct;
    }

    [Fact]
    public void KernelShapOnCreditData_MostRowsRepeat_AndEachTakesItsRepresentativesOutput()
    {
        var groups = TableGames.Credit;
        var vectors = TableGames.CreditVectors();
        var (x, background) = (vectors[0], vectors.Skip(1).Take(20).SelectMany(v => v).ToArray());
        var (masks, _) = Coalitions.Shapley([groups.Names.Length], [0], 512, seed: 0);
        var m = masks.Rows;
        var distinct = AssertEachRowIsTheOneForwarded(groups, masks.Masks, m, x, background);
        Assert.True(distinct.Count < m * 20 / 2, $"{distinct.Count} of {m * 20} rows forwarded");
    }

    [Fact]
    public void DistinctContinuousRows_AndDistinctCoalitions_AreForwardedAsTheyAre()
    {
        var groups = TableGames.Linear;
        var random = new Random(3);
        var x = Enumerable.Range(0, groups.Width).Select(_ => (float)random.NextDouble()).ToArray();
        var background = Enumerable.Range(0, 6 * groups.Width).Select(_ => (float)random.NextDouble() + 1).ToArray();
        byte[] masks = [1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1];
        Assert.False(new DistinctRows(groups, background).Find(masks, 4, x));
        // −0 and 0 are other bits: not the same row.
        var signed = (float[])background.Clone();
        (x[0], signed[0]) = (0f, -0f);
        Assert.False(new DistinctRows(groups, signed).Find(masks, 4, x));
        // A coalition given twice is forwarded once for every background row.
        byte[] twice = [.. masks, 1, 0, 0];
        Assert.Equal(4 * 6, AssertEachRowIsTheOneForwarded(groups, twice, 5, x, background).Count);
    }

    [Theory]
    [InlineData(20, 3)]  // 17 features differ: keyed by a dictionary
    [InlineData(20, 10)] // 10 differ: a table of 2^10
    [InlineData(64, 50)]
    public void ManyFeatures_SomeAgreeing_EachRowIsItsRepresentative(int features, int agreeing)
    {
        var groups = TableGames.Groups($$"""{ "table": "t.csv", "features": [{{string.Join(", ", Enumerable.Range(0, features).Select(f => $$"""{ "name": "f{{f}}", "type": "numeric" }"""))}}] }""");
        var random = new Random(features + agreeing);
        var x = Enumerable.Range(0, features).Select(_ => (float)random.Next(1000)).ToArray();
        var rows = 7;
        var background = new float[rows * features];
        for (var b = 0; b < rows; b++)
            for (var f = 0; f < features; f++)
                background[b * features + f] = f < agreeing ? x[f] : x[f] + 1 + random.Next(5);
        // 150 random coalitions, then each again with its agreeing features drawn anew: the same rows.
        var m = 300;
        var masks = new byte[m * features];
        for (var e = 0; e < masks.Length / 2; e++) masks[e] = (byte)random.Next(2);
        for (var e = masks.Length / 2; e < masks.Length; e++) masks[e] = e % features < agreeing ? (byte)random.Next(2) : masks[e - masks.Length / 2];
        AssertEachRowIsTheOneForwarded(groups, masks, m, x, background);
    }

    [Fact]
    public void Extract_WithoutBmi2_PacksTheSameBits()
    {
        var random = new Random(1);
        for (var i = 0; i < 1000; i++)
        {
            var (value, mask) = ((ulong)random.NextInt64(), (ulong)random.NextInt64() & (ulong)random.NextInt64());
            ulong expected = 0;
            for (var (bit, at) = (0, 0); bit < 64; bit++)
                if ((mask >> bit & 1) != 0) expected |= (value >> bit & 1) << at++;
            Assert.Equal(expected, DistinctRows.Extract(value, mask));
            Assert.Equal(expected, DistinctRows.ExtractBitByBit(value, mask));
        }
    }
}
