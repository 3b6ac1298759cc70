using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// What each shard does in the post pass, from what the explain pass merged: pruning's global ranking (and the counts
/// its curve is taken at), and the maximisation objectives (every class, then the Grad-CAM layer's channels with the
/// largest mean α over the dataset), dealt out in turn to the shards so the work is split across silos; and a table's dependence views
/// (every shard's rows over the grids planned from the merged sample).
/// </summary>
public static class PostPlan
{
    /// <returns>One <see cref="PostWork"/> per shard; null when the job has no post work.</returns>
    /// <param name="explainAttempts">Each shard's accepted explain attempt, where its files are staged (the embedding's coordinates join them).</param>
    public static PostWork[]? For(JobSpec job, SummaryBuilder merged, int[] explainAttempts)
    {
        var (shards, plan) = (explainAttempts.Length, JobPlan.Of(job));
        var pruning = plan.Pruning is not null && merged.PruningImportance is { } importance ? importance : null;
        var maximisation = plan.Maximisation;
        var embeddingOptions = plan.Embedding;
        var embedding = embeddingOptions is null ? null : merged.Embedding(embeddingOptions.Dims);
        if (embeddingOptions is not null) merged.EmbeddingNeighbours = embeddingOptions.K;
        // The label vote goes into the parquet parts with the coordinates: each shard gets its own samples' shares.
        var vote = embedding is null ? null : merged.LabelVote();
        var dependence = merged.Sums<Dependence.DependenceFeature.Sums>()?.Plan(job, merged.Sums<Tabular.FeatureImportanceFeature.Sums>());
        if (pruning is null && maximisation is null && embedding is null && dependence is null) return null;
        var order = pruning is null ? null : PruningSummary.Rank(pruning).Order;
        var removed = pruning is null ? [] : PruningSummary.CurvePoints(pruning.Channels);
        var objectives = new List<MaximisationObjective>();
        if (maximisation is not null)
        {
            objectives.AddRange(Enumerable.Range(0, merged.Classes).Select(c => new MaximisationObjective(c, null, -1)));
            if (maximisation.Channels > 0 && merged.ChannelWeights is { } weights && plan.SplitLayer is { } layer)
                objectives.AddRange(ChannelImportance.Top([.. weights.Select(w => (float)w)], maximisation.Channels)
                    .Select(c => new MaximisationObjective(-1, layer, c)));
        }
        var shardSize = job.ShardSize;
        return [.. Enumerable.Range(0, shards).Select(s =>
        {
            var mine = vote is { } v ? Enumerable.Range(0, v.Index.Length).Where(i => v.Index[i] / shardSize == s).ToArray() : [];
            return new PostWork(order, removed, [.. objectives.Where((_, j) => j % shards == s)], embedding?.Basis(explainAttempts[s]),
                vote is { } w ? [.. mine.Select(i => w.Index[i])] : null, vote is { } x ? [.. mine.Select(i => (float)x.Agreement[i])] : null, dependence);
        })];
    }
}
