using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Methods;

namespace ExplainCluster.Tests.Engine;

/// <summary>lime over a table's features, as the lime package's LimeTabularExplainer (quartile bins, levels, its kernel and ridge).</summary>
public sealed class TabularLimeTests
{
    /// <summary>
    /// 100 rows: three numbers each spread over 0..99 (quartile edges 24.75, 49.5, 74.25, as numpy's percentile), and c
    /// cycling through x, y, z; the vector is [x0, x1, x2, c=x, c=y, c=z].
    /// </summary>
    private static readonly float[][] Sample = [.. Enumerable.Range(0, 100).Select(r => new float[] { r, r * 37 % 100, r * 73 % 100, r % 3 == 0 ? 1 : 0, r % 3 == 1 ? 1 : 0, r % 3 == 2 ? 1 : 0 })];

    private static ExplainCluster.Engine.Data.Tables.FeatureGroups Groups => TableGames.Groups("""
        { "table": "t.csv", "features": [
            { "name": "x0", "type": "numeric" }, { "name": "x1", "type": "numeric" }, { "name": "x2", "type": "numeric" },
            { "name": "c", "type": "categorical", "encode": { "oneHot": ["x", "y", "z"] } } ] }
        """);

    private static IAttributionMethod Method(string options) => MethodRegistry.Create(new MethodSpec("lime", null, options), table: true);

    [Fact]
    public void Attribute_ModelLinearInTheDiscretisedFeatures_RecoversSignAndOrder()
    {
        // tabular_steps.pt: logit₁ = 2·[x0 > 74.25] − [x1 > 74.25] + 0.5·[x2 > 74.25] − 3·(c = z). For a row in every top
        // quartile with c = z, lime's surrogate features (bin or level = the row's) are exactly those indicators.
        using var model = TinyModels.Load("tabular/tabular_steps.pt");
        float[][] rows = [[90, 80, 99, 0, 0, 1], [95, 75, 76, 0, 0, 1]];
        var (maps, columns) = TableGames.Run(Method("""{ "explain": "logit" }"""), model, rows, Groups, Sample, targets: [1, 1]);
        for (var i = 0; i < rows.Length; i++)
        {
            var w = maps[(i * 4)..(i * 4 + 4)];
            Assert.Equal([1, -1, 1, -1], w.Select(v => Math.Sign(v)));
            Assert.Equal([3, 0, 1, 2], Enumerable.Range(0, 4).OrderByDescending(j => Math.Abs(w[j])));
            // The ridge (α = 1) barely shrinks what 5000 weighted rows fit exactly.
            Assert.Equal([2f, -1f, 0.5f, -3f], w, (a, b) => Math.Abs(a - b) < 0.01);
            Assert.InRange(columns[0][i], 0.999, 1.0);
        }
    }

    /// <summary>
    /// <c>"perturbations": "shared"</c>: one perturbation set for every row, run through the model once per batch. Each row's
    /// surrogate is still its own (its bins against the drawn ones), so the step model's weights come back as per row; and a
    /// row's explanation is the same in a batch of three as alone.
    /// </summary>
    [Fact]
    public void Attribute_SharedPerturbations_RecoverTheWeightsAndARowIsExplainedAlikeInAnyBatch()
    {
        using var model = TinyModels.Load("tabular/tabular_steps.pt");
        float[][] rows = [[90, 80, 99, 0, 0, 1], [95, 75, 76, 0, 0, 1], [10, 30, 60, 1, 0, 0]];
        var method = Method("""{ "explain": "logit", "perturbations": "shared" }""");
        var (maps, columns) = TableGames.Run(method, model, rows, Groups, Sample, targets: [1, 1, 1]);
        for (var i = 0; i < 2; i++)
        {
            var w = maps[(i * 4)..(i * 4 + 4)];
            Assert.Equal([2f, -1f, 0.5f, -3f], w, (a, b) => Math.Abs(a - b) < 0.01);
            Assert.InRange(columns[0][i], 0.999, 1.0);
        }
        for (var i = 0; i < 3; i++)
        {
            var (alone, aloneColumns) = TableGames.Run(method, model, [rows[i]], Groups, Sample, targets: [1]);
            Assert.Equal(maps[(i * 4)..(i * 4 + 4)], alone);
            Assert.Equal(columns[0][i], aloneColumns[0][0]);
            Assert.Equal(columns[1][i], aloneColumns[1][0]);
        }
        // Per row (the default) draws another sample for each row: the third row's weights differ from the shared set's.
        var (own, _) = TableGames.Run(Method("""{ "explain": "logit" }"""), model, [rows[2]], Groups, Sample, targets: [1]);
        Assert.NotEqual(maps[8..12], own);
    }

    [Fact]
    public void Discretiser_QuartilesAndDrawnBins_AreLimes()
    {
        Assert.Equal(74.25, TabularLime.Discretiser.Percentile([.. Enumerable.Range(0, 100).Select(v => (double)v)], 75), 12);
        Assert.Equal(2.5, TabularLime.Discretiser.Percentile([1, 2, 3, 4], 50), 12);
        var stats = TabularLime.Discretiser.Of(Groups, [.. Sample.SelectMany(r => r)]);
        float[] x = [10, 50, 74.25f, 0, 1, 0];
        Assert.Equal([0, 2, 2, 1], Enumerable.Range(0, 4).Select(f => stats.Value(f, x))); // searchsorted left: 74.25 is in bin 2
        // Drawn rows: each numeric value within its drawn bin's bounds, each bin drawn about a quarter of the time.
        const int Samples = 4000;
        var binary = new float[Samples * 4];
        var drawn = stats.Perturb(x, Samples, new Random(5), binary);
        var same = new int[4];
        for (var r = 1; r < Samples; r++)
        {
            var row = drawn.AsSpan(r * 6, 6);
            for (var f = 0; f < 4; f++)
            {
                Assert.Equal(binary[r * 4 + f] == 1, stats.Value(f, row) == stats.Value(f, x));
                same[f] += (int)binary[r * 4 + f];
            }
            Assert.InRange(row[0], 0, 99);
            Assert.Equal(1, row[3] + row[4] + row[5]);
        }
        // 25 of 100 rows in each bin, 33 or 34 at each level: binomial spread at 4000 draws is about ±0.007 (σ), so ±0.04 is ±5σ.
        Assert.InRange(same[0] / (double)Samples, 0.21, 0.29);
        Assert.InRange(same[3] / (double)Samples, 0.29, 0.38);
    }

    [Theory]
    [InlineData(700)]   // chunks that straddle the draw's blocks of 512 rows
    [InlineData(3001)]  // one chunk of every row
    [InlineData(1)]     // a row at a time
    public void Draw_InChunks_IsTheSameRowsAsDrawingAtOnce(int chunk)
    {
        // Numeric, one-hot and index-coded features; each chunk starts its stream where the rows before it ended.
        var groups = TableGames.Groups("""
            { "table": "t.csv", "features": [
                { "name": "x0", "type": "numeric" }, { "name": "c", "type": "categorical", "encode": { "oneHot": ["x", "y", "z"] } },
                { "name": "x1", "type": "numeric" }, { "name": "d", "type": "categorical", "encode": { "index": ["p", "q", "r", "s", "t"] } } ] }
            """);
        float[] sample = [.. Enumerable.Range(0, 100).SelectMany(r => new float[] { r * 37 % 100, r % 3 == 0 ? 1 : 0, r % 3 == 1 ? 1 : 0, r % 3 == 2 ? 1 : 0, r % 7, r % 5 })];
        var stats = TabularLime.Discretiser.Of(groups, sample);
        float[] x = [12, 0, 1, 0, 3, 4];
        const int Samples = 3001, K = 4;
        var stream = SampleSeeds.For(7, 42);
        var (whole, picks) = (new float[Samples * 6], new int[Samples * K]);
        var random = new TabularLime.StreamUniforms(stream);
        stats.Perturb(x, Samples, ref random, whole, default, picks);
        var (rows, chunkPicks) = (new float[chunk * 6], new int[Samples * K]);
        for (var start = 0; start < Samples; start += chunk)
        {
            var count = Math.Min(chunk, Samples - start);
            var at = TabularLime.StreamUniforms.At(stream, Math.Max(start - 1, 0) * K);
            stats.Draw(x, start, count, ref at, rows, chunkPicks);
            Assert.Equal(whole.AsSpan(start * 6, count * 6).ToArray(), rows.AsSpan(0, count * 6).ToArray());
        }
        Assert.Equal(picks, chunkPicks);
        Assert.Equal(x, whole[..6]);
        for (var r = 1; r < Samples; r++)
        {
            var row = whole.AsSpan(r * 6, 6);
            Assert.Equal(1, row[1] + row[2] + row[3]);          // one level of the one-hot group
            Assert.Equal(picks[r * K + 1], row[2] == 1 ? 1 : row[3] == 1 ? 2 : 0);
            Assert.Equal(picks[r * K + 3], row[5]);             // the level's index
            Assert.InRange(row[5], 0, 4);
            foreach (var f in new[] { 0, 2 }) Assert.Equal(picks[r * K + f], stats.Value(f, row)); // a value in its drawn bin
        }
    }

    [Theory]
    [InlineData(0, 3001)]
    [InlineData(1, 5)]   // a vector and one row
    [InlineData(17, 3)]  // fewer rows than a vector
    [InlineData(700, 2301)]
    public void Draw_ByCounters_IsTheStreamValueByValue(int from, int count)
    {
        // The stream's draw goes four rows a vector, each value from its counter; a source that only gives the next value
        // takes the scalar loop. Both must give the same values to the bit, and leave the stream at the same place.
        // Numeric features with three cuts and with one (x2: 90 % zeros, so its quartiles meet), one-hot and index-coded.
        var groups = TableGames.Groups("""
            { "table": "t.csv", "features": [
                { "name": "x0", "type": "numeric" }, { "name": "c", "type": "categorical", "encode": { "oneHot": ["x", "y", "z"] } },
                { "name": "x1", "type": "numeric" }, { "name": "d", "type": "categorical", "encode": { "index": ["p", "q", "r", "s", "t"] } },
                { "name": "x2", "type": "numeric" } ] }
            """);
        float[] sample = [.. Enumerable.Range(0, 100).SelectMany(r => new float[] { r * 37 % 100, r % 3 == 0 ? 1 : 0, r % 3 == 1 ? 1 : 0, r % 3 == 2 ? 1 : 0, r % 7, r % 5, r < 90 ? 0 : r })];
        var stats = TabularLime.Discretiser.Of(groups, sample);
        float[] x = [12, 0, 1, 0, 3, 4, 0];
        const int K = 5, Width = 7;
        var start = TabularLime.StreamUniforms.At(SampleSeeds.For(3, 9), Math.Max(from - 1, 0) * K);
        var (byCounter, byValue) = (start, new OneAtATime(start));
        var (rows, picks) = (new float[count * Width], new int[(from + count) * K]);
        var (expected, expectedPicks) = (new float[count * Width], new int[(from + count) * K]);
        stats.Draw(x, from, count, ref byCounter, rows, picks);
        stats.Draw(x, from, count, ref byValue, expected, expectedPicks);
        Assert.Equal(expected, rows);
        Assert.Equal(expectedPicks, picks);
        Assert.Equal(byValue.Next(), byCounter.Next());
        var (again, unpicked) = (start, new float[count * Width]); // no picks asked for: the same rows
        stats.Draw(x, from, count, ref again, unpicked, default);
        Assert.Equal(expected, unpicked);
        if (count > 1000) Assert.Contains(picks.Skip(from * K).Where((_, i) => i % K == 4), p => p == 1); // x2's second bin is drawn
    }

    /// <summary>The stream's values one at a time, as any source: <see cref="TabularLime.Discretiser.Draw"/>'s scalar loop.</summary>
    private struct OneAtATime(TabularLime.StreamUniforms stream) : TabularLime.IUniforms
    {
        private TabularLime.StreamUniforms _stream = stream;

        public double Next() => _stream.Next();
    }

    [Fact]
    public void Attribute_PerRowDraws_DoNotDependOnTheRowBudget()
    {
        // Each row's perturbations are drawn a forward's chunk at a time: budgets of 700, 256 and 8192 rows give the same fits.
        using var model = TinyModels.Load("tabular/tabular_steps.pt");
        float[][] rows = [[90, 80, 99, 0, 0, 1], [10, 75, 30, 1, 0, 0], [50, 20, 76, 0, 1, 0]];
        var runs = new[] { 700, 256, 8192 }.Select(budget => TableGames.Run(Method("""{ "samples": 3001 }"""), model, rows, Groups, Sample, targets: [1, 0, 1], maxRows: budget)).ToArray();
        foreach (var run in runs[1..])
        {
            Assert.Equal(runs[0].Maps, run.Maps);
            Assert.Equal(runs[0].Columns[0], run.Columns[0]);
        }
        Assert.NotEqual(runs[0].Maps[0..4], runs[0].Maps[4..8]);
    }

    [Fact]
    public void Perturb_NumericDraws_FollowTheBinsTruncatedNormal()
    {
        // x0's bin 0 holds 0..24: mean 12, std √52, bounds [0, 24.75]. The drawn values in that bin against the truncated
        // normal's CDF, integrated here by Simpson's rule (the sampler reads scipy's quantiles from a table).
        var stats = TabularLime.Discretiser.Of(Groups, [.. Sample.SelectMany(r => r)]);
        const int Samples = 40_000;
        var binary = new float[Samples * 4];
        var drawn = stats.Perturb([50, 50, 50, 1, 0, 0], Samples, new Random(11), binary);
        var inBin = Enumerable.Range(1, Samples - 1).Select(r => drawn[r * 6]).Where(v => stats.Value(0, [v, 0, 0, 1, 0, 0]) == 0).ToArray();
        var (mean, std) = (12.0, Math.Sqrt(52));
        double Mass(double to)
        {
            const int Steps = 2000;
            double Density(double v) => Math.Exp(-(v - mean) * (v - mean) / (2 * std * std));
            var h = to / Steps;
            return h / 3 * Enumerable.Range(0, Steps + 1).Sum(i => Density(i * h) * (i == 0 || i == Steps ? 1 : i % 2 == 1 ? 4 : 2));
        }
        Assert.All(inBin, v => Assert.InRange(v, 0, 24.75f));
        foreach (var at in new[] { 4.0, 12, 20 })
        {
            // About 10,000 draws in the bin: the binomial σ is at most 0.005, so ±0.025 is 5σ.
            Assert.InRange(inBin.Count(v => v <= at) / (double)inBin.Length - Mass(at) / Mass(24.75), -0.025, 0.025);
        }
    }

    [Theory]
    [InlineData("""{ "hide": "zero" }""", "methods.lime.hide: unknown field")]
    [InlineData("""{ "kernelWidth": 0 }""", "methods.lime.kernelWidth: expected a positive number")]
    [InlineData("""{ "training": { "samples": 0 } }""", "methods.lime.training.samples: expected an integer from 1 to 100000")]
    [InlineData("""{ "background": { "samples": 10 } }""", "methods.lime.background: unknown field")]
    [InlineData("""{ "spPick": -1 }""", "methods.lime.spPick: expected an integer from 0 to 1000")]
    [InlineData("""{ "perturbations": "each" }""", "methods.lime.perturbations: expected one of \"row\", \"shared\"")]
    [InlineData("""{ "spPick": 5, "spFeatures": 0 }""", "methods.lime.spFeatures: expected an integer from 1 to 100000")]
    public void Create_BadTableOption_IsOneLineNamingTheField(string options, string message)
    {
        var error = Assert.Throws<ExplainException>(() => Method(options));
        Assert.Equal(message, error.Message);
    }
}
