using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// <see cref="DistinctRows"/>: each coalition row is, bit for bit, the row forwarded in its place; the rows forwarded for a
/// background row are distinct from each other; on credit_data's real vectors most of kernel-shap's rows repeat.
/// </summary>
public sealed class DistinctRowsTests
{
    /// <summary>Every row written plainly, and the rows written from <paramref name="found"/>'s codes; each plain row must equal its representative.</summary>
    private static void AssertEachRowIsItsRepresentative(FeatureGroups groups, byte[] masks, int m, float[] x, float[] background, (int[] Rows, int[] Of) found)
    {
        var (width, rows) = (groups.Width, background.Length / groups.Width);
        var plain = new float[m * rows * width];
        new CoalitionRows(groups, masks, x, background).Write(0, m * rows, plain);
        var forwarded = new float[found.Rows.Length * width];
        var built = new CoalitionRows(groups, masks, x, background, found.Rows);
        for (var start = 0; start < found.Rows.Length; start += 37) // chunks that cut the codes' runs
            built.Write(start, Math.Min(37, found.Rows.Length - start), forwarded.AsSpan(start * width));
        Assert.Equal(m * rows, found.Of.Length);
        for (var r = 0; r < m * rows; r++)
            Assert.True(plain.AsSpan(r * width, width).SequenceEqual(forwarded.AsSpan(found.Of[r] * width, width)), $"row {r}");
        for (var b = 0; b < rows; b++)
        {
            var own = found.Rows.Select((code, i) => (code, i)).Where(p => p.code % rows == b)
                .Select(p => string.Join(',', forwarded.AsSpan(p.i * width, width).ToArray().Select(BitConverter.SingleToInt32Bits))).ToList();
            Assert.Equal(own.Count, own.Distinct().Count());
        }
        Assert.Equal(found.Rows.Order(), found.Rows);
    }

    [Fact]
    public void KernelShapOnCreditData_MostRowsRepeat_AndEachTakesItsRepresentativesOutput()
    {
        var groups = TableGames.Credit;
        var vectors = TableGames.CreditVectors();
        var (x, background) = (vectors[0], vectors.Skip(1).Take(20).SelectMany(v => v).ToArray());
        var (masks, _) = Coalitions.Shapley([groups.Names.Length], [0], 512, seed: 0);
        var m = masks.Rows;
        var found = new DistinctRows(groups, background).Find(masks.Of(0).Span, m, x);
        Assert.NotNull(found);
        AssertEachRowIsItsRepresentative(groups, masks.Masks, m, x, background, found.Value);
        Assert.True(found.Value.Rows.Length < m * 20 / 2, $"{found.Value.Rows.Length} of {m * 20} rows forwarded");
    }

    [Fact]
    public void DistinctContinuousRows_AndDistinctCoalitions_AreForwardedAsTheyAre()
    {
        var groups = TableGames.Linear;
        var random = new Random(3);
        var x = Enumerable.Range(0, groups.Width).Select(_ => (float)random.NextDouble()).ToArray();
        var background = Enumerable.Range(0, 6 * groups.Width).Select(_ => (float)random.NextDouble() + 1).ToArray();
        byte[] masks = [1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1];
        Assert.Null(new DistinctRows(groups, background).Find(masks, 4, x));
        // −0 and 0 are other bits: not the same row.
        var signed = (float[])background.Clone();
        (x[0], signed[0]) = (0f, -0f);
        Assert.Null(new DistinctRows(groups, signed).Find(masks, 4, x));
        // A coalition given twice is forwarded once for every background row.
        byte[] twice = [.. masks, 1, 0, 0];
        var found = new DistinctRows(groups, background).Find(twice, 5, x);
        Assert.NotNull(found);
        Assert.Equal(4 * 6, found.Value.Rows.Length);
        AssertEachRowIsItsRepresentative(groups, twice, 5, x, background, found.Value);
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
        var found = new DistinctRows(groups, background).Find(masks, m, x);
        Assert.NotNull(found);
        AssertEachRowIsItsRepresentative(groups, masks, m, x, background, found.Value);
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
