using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// How many samples of the dataset each stratum has (target class × correct, <see cref="SampleSelection.Stratum"/>: the
/// strata the stratified subsets are drawn by): the weights that reweight a statistic of a subset to the dataset.
/// summary.json's <c>strata</c>.
/// </summary>
public sealed class StrataFeature : Feature<long[], StrataFeature.Sums>
{
    public static readonly StrataFeature Instance = new();

    public override string Name => "strata";

    public override string Section => "strata";

    public override long[]? Compute(ShardOutcome s) => Of(s.Result.Targets, s.Result.Predictions, s.Result.Labels, s.Result.Classes);

    /// <summary>Each stratum's count among the samples (labels null: every sample counts as not correct, as the selection pass has it).</summary>
    public static long[] Of(long[] targets, int[] predictions, long[]? labels, int classes)
    {
        var counts = new long[2 * classes];
        for (var i = 0; i < targets.Length; i++) counts[SampleSelection.Stratum(targets[i], labels is not null && labels[i] == predictions[i])]++;
        return counts;
    }

    public override void Write(BinaryWriter w, long[] counts) => WriteArray(w, counts);

    public override long[] Read(BinaryReader r) => ReadArray<long>(r);

    public override Sums NewSums(int classes) => new(this, classes);

    public sealed class Sums(StrataFeature feature, int classes) : FeatureSums<long[]>(feature.Decode)
    {
        /// <summary>The dataset's count per stratum (index 2 · class + correct).</summary>
        public long[] Counts { get; } = new long[2 * classes];

        public override void Fold(long[] partial) => Totals.Add(Counts, partial);

        public override object? Summarise(SummaryDraft draft) => new StrataSummary((long[])Counts.Clone());
    }
}

/// <summary>summary.json's <c>strata</c>: the dataset's samples per stratum, index 2 · target class + (1 if correct).</summary>
public sealed record StrataSummary(long[] Counts);
