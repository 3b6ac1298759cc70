using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>kernel-shap's and permutation-shap's rows over a table's background, written a chunk at a time by lane selects.</summary>
public sealed class CoalitionRowsTests
{
    public static TheoryData<string, int> Tables => new()
    {
        { "linear", 7 },  // 5 elements a row: fewer than a vector's lanes
        { "credit", 7 },  // 26 elements a row (four one-hot groups): rows straddle the vectors
        { "credit", 256 },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public void Write_AnyChunks_GiveEachElementExactlyTheInstancesOrTheBackgrounds(string table, int chunk)
    {
        var groups = table == "linear" ? TableGames.Linear : TableGames.Credit;
        var (k, width, background, m) = (groups.Names.Length, groups.Width, 9, 23);
        var random = new Random(table.Length + chunk);
        var masks = new byte[m * k];
        for (var e = 0; e < masks.Length; e++) masks[e] = (byte)random.Next(2);
        var x = Enumerable.Range(0, width).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var rows = Enumerable.Range(0, background * width).Select(_ => (float)random.NextDouble() + 1).ToArray();
        var built = new CoalitionRows(groups, masks, x, rows);
        var written = new float[m * background * width];
        for (var start = 0; start < m * background; start += chunk)
        {
            var size = Math.Min(chunk, m * background - start);
            built.Write(start, size, written.AsSpan(start * width, size * width));
        }
        for (var c = 0; c < m; c++)
            for (var b = 0; b < background; b++)
                for (var f = 0; f < k; f++)
                    for (var e = groups.Offsets[f]; e < groups.Offsets[f] + groups.Widths[f]; e++)
                        Assert.Equal(masks[c * k + f] == 1 ? x[e] : rows[b * width + e], written[(c * background + b) * width + e]);
    }
}
