using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The <c>embedding</c> view: Σ x and Σ x xᵀ of every sample's features at the layer (an exact PCA), and the label
/// vote over its stratified subset: summary.json's <c>views.embedding</c>.
/// </summary>
public sealed class EmbeddingFeature : Feature<EmbeddingPartial, EmbeddingFeature.Sums>
{
    public static readonly EmbeddingFeature Instance = new();

    public override string Name => "embedding";

    public override string Section => "views.embedding";

    /// <summary>The shard's sums, and each voter's stratum (target class × correct), by which the vote's subset was drawn.</summary>
    public override EmbeddingPartial? Compute(ShardOutcome s) => s.Result.Views?.Embedding is { } e
        ? e with { SubsetStrata = e.SubsetIndex is { } index ? [.. index.Select(s.Result.RowOf).Select(r =>
            Jobs.SampleSelection.Stratum(s.Result.Targets[r], s.Result.Labels is { } l && l[r] == s.Result.Predictions[r]))] : null }
        : null;

    public override void Write(BinaryWriter w, EmbeddingPartial embedding)
    {
        w.Write(embedding.Layer);
        w.Write(embedding.Count);
        WriteArray(w, embedding.Sum);
        WriteArray(w, embedding.Cross);
        WriteArray(w, embedding.SubsetIndex ?? []);
        WriteArray(w, embedding.SubsetLabels ?? []);
        WriteArray(w, embedding.SubsetFeatures ?? []);
        WriteArray(w, embedding.SubsetStrata ?? []);
    }

    public override EmbeddingPartial Read(BinaryReader r) =>
        new(r.ReadString(), r.ReadInt64(), ReadArray<double>(r), ReadArray<double>(r), ReadArray<long>(r), ReadArray<long>(r), ReadArray<float>(r), ReadArray<int>(r));

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(EmbeddingFeature feature) : FeatureSums<EmbeddingPartial>(feature.Decode)
    {
        private EmbeddingPartial? _total;
        private (int K, (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? Vote)? _vote;

        public override void Fold(EmbeddingPartial partial) => (_total, _vote) = (EmbeddingPca.Add(_total, partial), null);

        /// <summary>The PCA with <paramref name="dims"/> components of every sample folded so far.</summary>
        public EmbeddingPca? Pca(int dims) => _total is null ? null : EmbeddingPca.Of(_total, dims);

        /// <summary>
        /// The label vote over the subset, by dataset index; null without one. Kept until another partial is folded or
        /// k changes (the post pass plans with it, the summary reports it): call it off the grain's scheduler.
        /// </summary>
        public (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? LabelVote(int k)
        {
            if (_vote is { } kept && kept.K == k) return kept.Vote;
            var vote = ComputeLabelVote(k);
            _vote = (k, vote);
            return vote;
        }

        private (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? ComputeLabelVote(int k)
        {
            if (_total is not { SubsetIndex: { Length: > 0 } index } e) return null;
            var d = e.SubsetFeatures!.Length / index.Length;
            var order = Enumerable.Range(0, index.Length).OrderBy(i => index[i]).ToArray();
            var sortedIndex = order.Select(i => index[i]).ToArray();
            var labels = order.Select(i => e.SubsetLabels![i]).ToArray();
            var features = order.SelectMany(i => e.SubsetFeatures.AsSpan(i * d, d).ToArray()).ToArray();
            var (agreement, majority) = Views.LabelVote.Of(sortedIndex, labels, features, k);
            return (sortedIndex, labels, agreement, majority);
        }

        public override object? Summarise(SummaryDraft draft)
        {
            if (Pca(draft.Settings.EmbeddingDims) is not { } embedding) return null;
            return new EmbeddingView(embedding.Layer, embedding.Samples, embedding.Components.Length, embedding.Variance, embedding.Explained,
                Vote(draft, draft.Settings.EmbeddingNeighbours), ModelTaps.Describe(embedding.Layer));
        }

        /// <summary>The label vote's summary, its arrays added; null without one.</summary>
        private KnnVote? Vote(SummaryDraft draft, int k)
        {
            if (LabelVote(k) is not { } vote) return null;
            var (sortedIndex, labels, agreement, majority) = vote;
            var (indexFile, agreementFile) = (OutputLayout.SummaryArray("embedding-knn-index"), OutputLayout.SummaryArray("embedding-knn-agreement"));
            draft.Arrays.Add(new SummaryArray(indexFile, [sortedIndex.Length], sortedIndex));
            draft.Arrays.Add(new SummaryArray(agreementFile, [agreement.Length], Array.ConvertAll(agreement, v => (float)v)));
            var lowest = Enumerable.Range(0, agreement.Length).OrderBy(i => agreement[i]).ThenBy(i => sortedIndex[i]).Take(16)
                .Select(i => new Disagreement(sortedIndex[i], labels[i], majority[i], agreement[i])).ToArray();
            return new KnnVote(k, agreement.Length, agreement.Average(), lowest, indexFile, agreementFile, Reweighted(draft));
        }

        /// <summary>
        /// The mean agreement reweighted to the dataset's strata (<see cref="StrataFeature"/>), with its interval; null
        /// without the voters' strata.
        /// </summary>
        private Estimate? Reweighted(SummaryDraft draft)
        {
            if (_total is not { SubsetStrata: { Length: > 0 } strata, SubsetIndex: { } index } || draft.Sums<StrataFeature.Sums>()?.Counts is not { } dataset
                || LabelVote(draft.Settings.EmbeddingNeighbours) is not { } vote) return null;
            // The vote is by sorted dataset index; the voters' strata are in fold order.
            var stratumOf = index.Zip(strata).ToDictionary(p => p.First, p => p.Second);
            var moments = new MomentSums[dataset.Length];
            for (var i = 0; i < vote.Index.Length; i++)
                moments[stratumOf[vote.Index[i]]] = moments[stratumOf[vote.Index[i]]].Add(vote.Agreement[i]);
            return Intervals.Reweighted(moments, dataset, draft.Settings.Confidence);
        }
    }
}

/// <summary>summary.json's <c>views</c>, read as its record.</summary>
public static class SummaryViews
{
    extension(Summary summary)
    {
        /// <summary>Null when the job asked for no view.</summary>
        public ViewsSummary? Views => summary.Section<ViewsSummary>("views");
    }
}
