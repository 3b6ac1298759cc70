using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Cohorts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Tests.Engine;

/// <summary>The cohorts feature on shards made by hand: its statistics by plain loops, the cap, sharding changing no bit.</summary>
public class CohortsFeatureTests
{
    // 60 samples of a two-feature table: value v{i mod K} (missing for every 10th), label i mod 2, prediction (i / 3) mod 2,
    // attributions a = (i − 20) / 7 and b = sin(i) on the samples the method explained (every one but each 4th).
    private static string?[] Values(int n, int k) => [.. Enumerable.Range(0, n).Select(i => i % 10 == 9 ? null : $"v{i % k:D2}")];

    private static ShardOutcome Shard(int start, int count, string?[] values, bool labels = true)
    {
        var index = Enumerable.Range(start, count).ToArray();
        var explained = index.Where(i => i % 4 != 3).ToArray();
        var maps = explained.SelectMany(i => new[] { (float)((i - 20) / 7.0), (float)Math.Sin(i) }).ToArray();
        var rows = explained.Select(i => i - start).ToArray();
        var meanAbs = index.Select(i => i % 4 == 3 ? float.NaN : (float)((Math.Abs((float)((i - 20) / 7.0)) + (double)Math.Abs((float)Math.Sin(i))) / 2)).ToArray();
        var predictions = index.Select(i => i / 3 % 2).ToArray();
        long[]? labelled = labels ? [.. index.Select(i => (long)(i % 2))] : null;
        var result = new ShardResult(start, count, 2, labelled, [.. predictions.Select(p => (long)p)], new float[2 * count], predictions, new float[count], null,
            [new MethodMaps("saliency", [2], maps, [], rows)], 0);
        var data = new ShardData(start, count, [], labelled, [2], Features: ["a", "b"], Metadata: [new TextColumn("site", values[start..(start + count)])], Cohorts: ["site"]);
        return new ShardOutcome(new ShardSpec(start / count, start, count), result, data, 1, [], [count],
            [new MethodScalars("saliency", meanAbs, new float[count], [], Nullable: true)]);
    }

    private static CohortsSummary Fold(IEnumerable<ShardOutcome> shards)
    {
        var feature = CohortsFeature.Instance;
        var sums = feature.NewSums(2);
        foreach (var s in shards) sums.Fold(feature.Partial(s)!, "test");
        return (CohortsSummary)sums.Summarise(new SummaryDraft(["a", "b"], [], _ => null, new()))!;
    }

    private static string Json(CohortsSummary s) => JsonSerializer.Serialize(s, Manifest.Json);

    [Fact]
    public void Summary_FiveValuesAndMissing_EqualsPlainLoops()
    {
        const int n = 60;
        var values = Values(n, 5);
        var summary = Fold([Shard(0, n, values)]);
        var column = Assert.Single(summary.Columns);
        Assert.Equal("site", column.Column);
        Assert.Equal(6, column.Distinct);
        Assert.Equal(new CohortComparisons(6, 18, 0), column.Comparisons);
        Assert.Equal(0, column.Pooled);
        Assert.Equal(["v00", "v01", "v02", "v03", "v04", CohortSummaries.Missing], column.Cohorts.Select(c => c.Value));
        var z = 1.959963984540054;
        foreach (var row in column.Cohorts)
        {
            var members = Enumerable.Range(0, n).Where(i => (values[i] ?? CohortSummaries.Missing) == row.Value).ToArray();
            var rest = Enumerable.Range(0, n).Except(members).ToArray();
            Assert.Equal(members.Length, row.N);
            // Accuracy and Wilson's interval, written out here.
            double Accuracy(int[] set) => set.Count(i => i % 2 == i / 3 % 2) / (double)set.Length;
            var (p, m) = (Accuracy(members), (double)members.Length);
            var centre = (p + z * z / (2 * m)) / (1 + z * z / m);
            var half = z / (1 + z * z / m) * Math.Sqrt(p * (1 - p) / m + z * z / (4 * m * m));
            Assert.Equal(p, row.Accuracy!.Value!.Value, 12);
            Assert.Equal(Math.Max(0, centre - half), row.Accuracy.Low!.Value, 12);
            Assert.Equal(Math.Min(1, centre + half), row.Accuracy.High!.Value, 12);
            Assert.Equal(p - Accuracy(rest), row.AccuracyDifference!.Value, 12);
            // Feature b's |attribution| over the members the method explained, and its difference from the rest's (Welch).
            double[] B(int[] set) => [.. set.Where(i => i % 4 != 3).Select(i => (double)Math.Abs((float)Math.Sin(i)))];
            var (mine, others) = (B(members), B(rest));
            var b = row.Attributions.Single(a => a.Feature == "b");
            Assert.Equal(mine.Length, b.MeanAbs.N);
            Assert.Equal(mine.Average(), b.MeanAbs.Value!.Value, 12);
            double Var(double[] x) => x.Sum(v => (v - x.Average()) * (v - x.Average())) / (x.Length - 1);
            Assert.Equal(mine.Average() + z * Math.Sqrt(Var(mine) / mine.Length), b.MeanAbs.High!.Value, 12);
            var d = mine.Average() - others.Average();
            Assert.Equal(d, b.Difference!.Value, 12);
            // Bonferroni over the column's 6 cohorts × 3 statistics: each difference's interval at 1 − 0.05 / 18 (Python's NormalDist().inv_cdf).
            const double zAdjusted = 2.99131611518378;
            Assert.Equal(d - zAdjusted * Math.Sqrt(Var(mine) / mine.Length + Var(others) / others.Length), b.Difference.Low, 10);
            Assert.Equal(b.Difference.Low > 0 || b.Difference.High < 0, b.Difference.Significant);
            // The map's mean |value| per sample, as the samples table's saliency_mean_abs has it.
            var map = row.Attributions.Single(a => a.Feature is null);
            Assert.Equal(mine.Length, map.MeanAbs.N);
        }
        // Per cohort: the map's mean |value|, then each feature's, in the table's order.
        Assert.Equal([null, "a", "b"], column.Cohorts[0].Attributions.Select(a => a.Feature));
        Assert.Equal(["saliency", "saliency", "saliency"], column.Cohorts[0].Attributions.Select(a => a.Method));
    }

    [Fact]
    public void Summary_AnySharding_SameBits()
    {
        var values = Values(60, 7);
        var single = Json(Fold([Shard(0, 60, values)]));
        Assert.Equal(single, Json(Fold([Shard(0, 20, values), Shard(20, 20, values), Shard(40, 20, values)])));
        Assert.Equal(single, Json(Fold(Enumerable.Range(0, 12).Select(s => Shard(5 * s, 5, values)))));
        // And through the partial's bytes.
        var feature = CohortsFeature.Instance;
        var partial = feature.Compute(Shard(0, 60, values))!;
        Assert.Equal(feature.Encode(partial), feature.Encode(feature.Decode(feature.Encode(partial), "test")));
    }

    [Fact]
    public void Summary_MoreValuesThanTheCap_MostFrequentShownRestPooledAsOther()
    {
        // 30 values, value j with j % 3 + 1 samples.
        var values = Enumerable.Range(0, 30).SelectMany(j => Enumerable.Repeat($"w{j:D2}", j % 3 + 1)).Cast<string?>().ToArray();
        var summary = Fold([Shard(0, values.Length, values)]);
        var column = Assert.Single(summary.Columns);
        Assert.Equal(30, column.Distinct);
        Assert.Equal(30 - CohortOptions.MaxValues, column.Pooled);
        Assert.Equal(CohortOptions.MaxValues + 1, column.Cohorts.Length);
        var shown = column.Cohorts.Where(c => c.Kind == "value").ToArray();
        // The ten values with 3 samples and the ten with 2 (ties by value), in value order; the ten with 1 are "other".
        Assert.Equal(Enumerable.Range(0, 30).Where(j => j % 3 != 0).Select(j => $"w{j:D2}"), shown.Select(c => c.Value));
        var other = column.Cohorts[^1];
        Assert.Equal(("(other)", "other", 10L), (other.Value, other.Kind, other.N));
        Assert.Equal(values.Length, column.Cohorts.Sum(c => c.N));
    }

    [Fact]
    public void Summary_TooManyDistinctValues_NoCohortsAndSaysSo()
    {
        var n = CohortOptions.MaxDistinct + 1;
        var values = Enumerable.Range(0, n).Select(i => (string?)$"id{i}").ToArray();
        // Over two shards, neither of which has too many alone: the fold finds it.
        var column = Assert.Single(Fold([Shard(0, n / 2, values), Shard(n / 2, n - n / 2, values)]).Columns);
        Assert.Null(column.Distinct);
        Assert.Empty(column.Cohorts);
        // A shard with too many values alone sends none of their sums.
        var partial = CohortsFeature.Instance.Compute(Shard(0, n, values))!;
        Assert.True(partial.Columns[0].TooMany);
        Assert.Empty(partial.Columns[0].Values);
    }

    [Fact]
    public void Finding_SignificantCohorts_NamedWithTheirTest()
    {
        static CohortRow Row(string value, double accuracy, CohortDifference? accuracyDifference, CohortDifference? attribution) =>
            new(value, "value", 100, new Estimate(accuracy, accuracy - 0.05, accuracy + 0.05, 100), accuracyDifference,
                [new CohortAttribution("saliency", null, new Estimate(0.1, 0.09, 0.11, 100), attribution),
                 new CohortAttribution("saliency", "income", new Estimate(0.1, 0.09, 0.11, 100), attribution is null ? null : CohortDifference.Of(0.01, -0.01, 0.03))], []);
        var column = new CohortColumn("site", 2, 0,
        [
            Row("A", 0.95, CohortDifference.Of(0.15, 0.08, 0.22), CohortDifference.Of(-0.02, -0.03, -0.01)),
            Row("B", 0.8, CohortDifference.Of(-0.15, -0.22, -0.08), null),
        ], new CohortComparisons(2, 4, 0));
        var text = ExplainCluster.Engine.Report.Sections.CohortsSection.Finding(column, "95 %");
        Assert.Equal("Accuracy differs significantly from the rest's for A (95.0 %, +15.0 points against the rest); B (80.0 %, −15.0 points against the rest) "
            + "(Newcombe's interval of the difference, 95 % jointly over 2 cohorts, excludes 0). The mean |attribution| differs significantly from the rest's for A (saliency) "
            + "(Welch's normal interval of the difference, 95 % jointly over 4 comparisons, excludes 0).", text);
        var none = new CohortColumn("site", 1, 0, [Row("A", 0.9, CohortDifference.Of(0.01, -0.05, 0.07), CohortDifference.Of(0, -1, 1))], new CohortComparisons(1, 2, 0));
        Assert.StartsWith("No cohort's accuracy differs significantly", ExplainCluster.Engine.Report.Sections.CohortsSection.Finding(none, "95 %"));
        // Many features differ: the three most clearly different (|difference| / its interval's width) are named, the others counted.
        var many = new CohortRow("C", "value", 50, null, null, [.. Enumerable.Range(1, 5).Select(j =>
            new CohortAttribution("saliency", $"f{j}", new Estimate(0.1, 0.09, 0.11, 50), CohortDifference.Of(0.01 * j, 0.001, 0.06)))], []);
        Assert.Contains("for C (saliency on f5, saliency on f4, saliency on f3, 2 more features)",
            ExplainCluster.Engine.Report.Sections.CohortsSection.Finding(new CohortColumn("site", 1, 0, [many], new CohortComparisons(0, 5, 0)), "95 %"));
    }

    [Fact]
    public void Summary_NoLabels_NoAccuracy()
    {
        var row = Fold([Shard(0, 20, Values(20, 2), labels: false)]).Columns[0].Cohorts[0];
        Assert.Null(row.Accuracy);
        Assert.Null(row.AccuracyDifference);
        Assert.NotNull(row.Attributions[0].MeanAbs.Value);
    }
}
