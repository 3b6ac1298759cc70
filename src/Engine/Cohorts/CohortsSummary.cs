using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Cohorts;

/// <summary>
/// summary.json's <c>cohorts</c>: per cohort column (<see cref="CohortOptions"/>) its cohorts, each against the rest of the
/// samples. Estimates' intervals at <see cref="Confidence"/>; a difference's interval is Bonferroni-adjusted for the comparisons of
/// its family in the column (<see cref="CohortComparisons"/>), so the differences of a family hold jointly at
/// <see cref="Confidence"/>, and it is <see cref="CohortDifference.Significant"/> when that interval excludes 0.
/// </summary>
/// <param name="MaxValues">The most cohorts a column shows (the most frequent values; the rest pooled as "other").</param>
/// <param name="MaxDistinct">A column with more distinct values has no cohorts.</param>
public sealed record CohortsSummary(double Confidence, int MaxValues, int MaxDistinct, CohortColumn[] Columns);

/// <param name="Distinct">The column's distinct values (missing counted as one); null when more than <see cref="CohortsSummary.MaxDistinct"/> (then no cohorts).</param>
/// <param name="Pooled">How many values the "other" cohort pools (0 when every value is shown).</param>
/// <param name="Cohorts">By value (ordinal), then the missing values, then "other".</param>
/// <param name="Comparisons">How many differences from the rest each family holds (their intervals are adjusted for it).</param>
public sealed record CohortColumn(string Column, int? Distinct, int Pooled, CohortRow[] Cohorts, CohortComparisons Comparisons);

/// <summary>
/// The differences from the rest a column's table holds per family: accuracy (one per cohort), attributions (cohorts ×
/// statistics), trust (cohorts × metrics). Each family's intervals are at 1 − (1 − confidence) / its count (Bonferroni).
/// </summary>
public sealed record CohortComparisons(int Accuracy, int Attributions, int Trust)
{
    public static CohortComparisons None { get; } = new(0, 0, 0);

    /// <summary>The confidence of each of <paramref name="count"/> intervals that hold jointly at <paramref name="confidence"/>.</summary>
    public static double Adjusted(double confidence, int count) => 1 - (1 - confidence) / Math.Max(1, count);
}

/// <param name="Kind"><c>value</c>, <c>missing</c> (no value in the metadata) or <c>other</c> (the values past the cap, pooled).</param>
/// <param name="Accuracy">Its accuracy over its labelled samples with Wilson's interval; null without labels.</param>
/// <param name="AccuracyDifference">Its accuracy minus the rest's, with Newcombe's hybrid score interval (from the two Wilson intervals at the adjusted confidence).</param>
/// <param name="Trust">Each trust metric's mean, and with <c>faithfulness</c> each method's deletion and insertion AUC (metrics <c>deletion_auc</c>, <c>insertion_auc</c>).</param>
/// <param name="Calibration">Its labelled samples' calibration; null without labels.</param>
public sealed record CohortRow(string Value, string Kind, long N, Estimate? Accuracy, CohortDifference? AccuracyDifference,
    CohortAttribution[] Attributions, CohortTrust[] Trust, CohortCalibration? Calibration = null);

/// <summary>
/// A cohort's calibration over its labelled samples (<paramref name="N"/>): the mean confidence (the predicted class's softmax
/// probability), the accuracy, their gap (mean confidence − accuracy: above 0 over-confident), and the expected calibration
/// error in the error analysis' 15 equal bins of confidence, Σ (nᵦ / n) |accuracyᵦ − mean confidenceᵦ|.
/// </summary>
public sealed record CohortCalibration(long N, double MeanConfidence, double Accuracy, double Gap, double Ece)
{
    public static CohortCalibration? Of(CohortCalibrationSums sums)
    {
        var n = sums.Count.Sum();
        if (n == 0) return null;
        double ece = 0, confidence = 0;
        for (var b = 0; b < sums.Count.Length; b++)
        {
            if (sums.Count[b] == 0) continue;
            var binConfidence = sums.Confidence[b].Value;
            confidence += binConfidence;
            ece += (double)sums.Count[b] / n * Math.Abs((double)sums.Correct[b] / sums.Count[b] - binConfidence / sums.Count[b]);
        }
        var (mean, accuracy) = (confidence / n, (double)sums.Correct.Sum() / n);
        return new CohortCalibration(n, mean, accuracy, mean - accuracy, ece);
    }
}

/// <summary>A method's mean |attribution| in the cohort: per sample the map's mean |value|, or for a table one feature's |attribution| (<see cref="Feature"/>).</summary>
/// <param name="Difference">The cohort's mean minus the rest's, with the normal (Welch) interval from the two samples' spreads.</param>
public sealed record CohortAttribution(string Method, string? Feature, Estimate MeanAbs, CohortDifference? Difference);

/// <summary>A trust metric's mean over the cohort's samples that the metric evaluated, against the rest's as in <see cref="CohortAttribution"/>.</summary>
public sealed record CohortTrust(string Method, string Metric, Estimate Mean, CohortDifference? Difference);

/// <summary>The cohort's figure minus the rest's, with its Bonferroni-adjusted interval; <see cref="Significant"/> when the interval excludes 0.</summary>
public sealed record CohortDifference(double Value, double Low, double High, bool Significant)
{
    public static CohortDifference Of(double value, double low, double high) => new(value, low, high, low > 0 || high < 0);
}

/// <summary>The summary's rows from the folded sums: which values are shown, the "other" pool, and each row against the rest.</summary>
public static class CohortSummaries
{
    public const string Missing = "(missing)";

    public const string Other = "(other)";

    /// <param name="values">Missing first, then by value; null when the column had too many values.</param>
    public static CohortColumn Column(string name, IReadOnlyList<CohortValueSums>? values, CohortKey[] keys, double confidence)
    {
        if (values is null) return new CohortColumn(name, null, 0, [], CohortComparisons.None);
        var total = new CohortValueSums(null, keys.Length);
        foreach (var v in values) total.Add(v);
        // The cap: the most frequent values (ties by value, missing first), the others pooled in their order.
        var shown = values.Count <= CohortOptions.MaxValues ? [.. values]
            : values.Select((v, i) => (v, i)).OrderByDescending(x => x.v.Count).ThenBy(x => x.i).Take(CohortOptions.MaxValues).Select(x => x.v).ToHashSet();
        CohortValueSums? other = null;
        foreach (var v in values.Where(v => !shown.Contains(v))) (other ??= new CohortValueSums(null, keys.Length)).Add(v);
        var cohorts = values.Where(shown.Contains).Where(v => v.Value is not null).Select(v => (v.Value!, "value", v))
            .Concat(values.Where(v => v.Value is null && shown.Contains(v)).Select(v => (Missing, "missing", v)))
            .Concat(other is null ? [] : [(Other, "other", other)]).ToArray();
        var trustKeys = keys.Count(k => k.Metric is not null);
        var comparisons = new CohortComparisons(cohorts.Length, cohorts.Length * (keys.Length - trustKeys), cohorts.Length * trustKeys);
        return new CohortColumn(name, values.Count, values.Count - shown.Count,
            [.. cohorts.Select(c => Row(c.Item1, c.Item2, c.Item3, total, keys, confidence, comparisons))], comparisons);
    }

    private static CohortRow Row(string value, string kind, CohortValueSums cohort, CohortValueSums total, CohortKey[] keys, double confidence, CohortComparisons comparisons)
    {
        var rest = new CohortValueSums(null, keys.Length);
        rest.Add(total);
        rest.Add(cohort, -1);
        var accuracy = cohort.Labelled == 0 ? null : Intervals.Wilson(cohort.Correct, cohort.Labelled, confidence);
        var adjusted = CohortComparisons.Adjusted(confidence, comparisons.Accuracy);
        var accuracyDifference = cohort.Labelled == 0 || rest.Labelled == 0 ? null
            : Newcombe(Intervals.Wilson(cohort.Correct, cohort.Labelled, adjusted), Intervals.Wilson(rest.Correct, rest.Labelled, adjusted));
        var attributions = new List<CohortAttribution>();
        var trust = new List<CohortTrust>();
        for (var k = 0; k < keys.Length; k++)
        {
            var family = keys[k].Metric is null ? comparisons.Attributions : comparisons.Trust;
            var (mean, difference) = (cohort.Moments[k].Mean(confidence),
                MeanDifference(cohort.Moments[k], rest.Moments[k], CohortComparisons.Adjusted(confidence, family)));
            if (keys[k].Metric is { } metric) trust.Add(new CohortTrust(keys[k].Method, metric, mean, difference));
            else attributions.Add(new CohortAttribution(keys[k].Method, keys[k].Feature, mean, difference));
        }
        return new CohortRow(value, kind, cohort.Count, accuracy, accuracyDifference, [.. attributions], [.. trust], CohortCalibration.Of(cohort.Calibration));
    }

    /// <summary>
    /// p₁ − p₂ with Newcombe's (1998) hybrid score interval, method 10: the Wilson intervals' distances combined,
    /// [d − √((p₁ − l₁)² + (u₂ − p₂)²), d + √((u₁ − p₁)² + (p₂ − l₂)²)].
    /// </summary>
    public static CohortDifference Newcombe(Estimate a, Estimate b)
    {
        double p1 = a.Value!.Value, l1 = a.Low!.Value, u1 = a.High!.Value, p2 = b.Value!.Value, l2 = b.Low!.Value, u2 = b.High!.Value;
        var d = p1 - p2;
        return CohortDifference.Of(d, d - Math.Sqrt((p1 - l1) * (p1 - l1) + (u2 - p2) * (u2 - p2)), d + Math.Sqrt((u1 - p1) * (u1 - p1) + (p2 - l2) * (p2 - l2)));
    }

    /// <summary>m₁ − m₂ ± z √(s₁²/n₁ + s₂²/n₂) (Welch's standard error, normal quantile); null unless both have two samples.</summary>
    public static CohortDifference? MeanDifference(ExactMoments a, ExactMoments b, double confidence)
    {
        if (a.Count < 2 || b.Count < 2) return null;
        var (sa, sb) = ((a.Sum.Value, a.Squares.Value), (b.Sum.Value, b.Squares.Value));
        var d = sa.Item1 / a.Count - sb.Item1 / b.Count;
        var half = Intervals.Z(confidence) * Math.Sqrt(Intervals.Variance(a.Count, sa.Item1, sa.Item2) / a.Count + Intervals.Variance(b.Count, sb.Item1, sb.Item2) / b.Count);
        return CohortDifference.Of(d, d - half, d + half);
    }
}

/// <summary>summary.json's <c>cohorts</c>, read as its record.</summary>
public static class SummaryCohorts
{
    extension(Summary summary)
    {
        /// <summary>Null unless the job has metadata columns to form cohorts by.</summary>
        public CohortsSummary? Cohorts => summary.Section<CohortsSummary>(CohortsFeature.Instance.Section);
    }
}
