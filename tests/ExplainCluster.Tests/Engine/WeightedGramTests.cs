using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// lime's 0/1 rows summed at once through a table of row values and superset sums (<see cref="WeightedGram.OfBits"/>)
/// against the same rows added one at a time, and the agreement bits compared a vector at a time against one feature at a time.
/// </summary>
public sealed class WeightedGramTests
{
    public static TheoryData<int, int> Sizes => new()
    {
        { 1, 50 },      // the table path with one feature
        { 5, 400 },
        { 13, 5000 },   // lime's credit table
        { 16, 1 << 14 }, // the table's largest
        { 13, 100 },    // too few rows for a table: row by row
        { 17, 3000 },   // too many features for a table
        { 64, 3000 },   // one full word
        { 70, 3000 },   // two words
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void OfBits_EqualsTheRowsAddedOneAtATime(int features, int rows)
    {
        var words = (features + 63) / 64;
        var random = new Random(features * 31 + rows);
        var bits = new ulong[rows * words];
        var (w, y) = (new double[rows], new float[rows]);
        for (var r = 0; r < rows; r++)
        {
            // Row 0 has every feature, row 1 none; the rest are set with odds from 0.1 to 0.9, so pairs of set bits are common.
            var odds = 0.1 + 0.8 * random.NextDouble();
            for (var f = 0; f < features; f++)
                if (r == 0 || (r != 1 && random.NextDouble() < odds)) bits[r * words + f / 64] |= 1UL << (f % 64);
            (w[r], y[r]) = (1 - random.NextDouble(), (float)(random.NextDouble() * 4 - 2));
        }
        var byRow = new WeightedGram(features);
        for (var r = 0; r < rows; r++) byRow.Add(bits.AsSpan(r * words, words), w[r], y[r]);
        var atOnce = WeightedGram.OfBits(features, bits, w, y);
        for (var i = 0; i < features + 2; i++)
            for (var j = 0; j < features + 2; j++)
                Assert.True(Math.Abs(byRow[i, j] - atOnce[i, j]) <= 1e-10 * Math.Max(1, Math.Abs(byRow[i, j])), $"[{i}, {j}]: {byRow[i, j]} against {atOnce[i, j]}");
        Assert.True(byRow[0, features - 1] > 0 && byRow[features, features] > 0.3 * rows); // the sums are not zeros
    }

    [Theory]
    [InlineData(2, 40)]
    [InlineData(6, 400)]
    [InlineData(13, 5000)]
    public void OfBits_SupersetSums_AreTheBitByBitPassesToTheBit(int features, int rows)
    {
        // The table's superset sums, here one bit at a time in plain loops; OfBits may take bits 0 and 1 together in vectors,
        // and must make the same additions in the same order.
        var random = new Random(features);
        var (bits, w, y) = (new ulong[rows], new double[rows], new float[rows]);
        for (var r = 0; r < rows; r++)
            (bits[r], w[r], y[r]) = ((ulong)random.Next(1 << features), 1 - random.NextDouble(), (float)(random.NextDouble() * 4 - 2));
        var (sw, swy) = (new double[1 << features], new double[1 << features]);
        for (var r = 0; r < rows; r++) (sw[bits[r]], swy[bits[r]]) = (sw[bits[r]] + w[r], swy[bits[r]] + w[r] * y[r]);
        foreach (var table in new[] { sw, swy })
            for (var j = 0; j < features; j++)
                for (var cell = 0; cell < table.Length; cell++)
                    if ((cell >> j & 1) == 0) table[cell] += table[cell | 1 << j];
        var gram = WeightedGram.OfBits(features, bits, w, y);
        for (var j = 0; j < features; j++)
        {
            Assert.Equal(sw[1 << j], gram[j, j]);
            Assert.Equal(swy[1 << j], gram[j, features + 1]);
            for (var l = j + 1; l < features; l++) Assert.Equal(sw[1 << j | 1 << l], gram[j, l]);
        }
        Assert.Equal(sw[0], gram[features, features]);
        Assert.Equal(swy[0], gram[features, features + 1]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(13)]
    [InlineData(64)]
    [InlineData(70)]
    public void Agree_EqualsOneFeatureAtATime(int k)
    {
        const int samples = 301;
        var words = (k + 63) / 64;
        var random = new Random(k);
        var own = Enumerable.Range(0, k).Select(_ => random.Next(-1, 3)).ToArray(); // a level may be negative (an index column)
        var picks = new int[samples * k];
        for (var r = 0; r < samples; r++)
            for (var f = 0; f < k; f++)
                picks[r * k + f] = r == 2 ? own[f] : r == 3 ? own[f] + 1 : random.Next(-1, 3); // row 2 agrees everywhere, row 3 nowhere
        var bits = new ulong[samples * words];
        TabularLime.Discretiser.Agree(own, picks, samples, bits);
        for (var r = 0; r < samples; r++)
        {
            var expected = new ulong[words];
            for (var f = 0; f < k; f++) expected[f / 64] |= (r == 0 || picks[r * k + f] == own[f] ? 1UL : 0) << (f % 64);
            Assert.Equal(expected, bits.AsSpan(r * words, words).ToArray());
        }
        Assert.Equal(k, System.Numerics.BitOperations.PopCount(bits[2 * words]) + (words > 1 ? System.Numerics.BitOperations.PopCount(bits[2 * words + 1]) : 0));
        Assert.All(bits.AsSpan(3 * words, words).ToArray(), word => Assert.Equal(0UL, word));
    }
}
