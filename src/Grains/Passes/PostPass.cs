using ExplainCluster.Contracts;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// After every shard's explanations: pruning's curve, maximisation, the embedding's projection and a table's dependence views (<see cref="PostPlan"/>),
/// planned from what the explain pass merged. Its attempts stage their files in folders of their own (never the explain
/// pass's); the commit joins them. Its results are not persisted: the plan is made again from the merged state on
/// resume, and the shards it had finished run again (their attempt numbers go on). Skipped when the job has no post work.
/// </summary>
public sealed class PostPass(JobContext job) : IJobPass<PostPartial>
{
    private PostWork[]? _work;

    public JobPass Kind => JobPass.Post;

    public ShardPhase Phase => ShardPhase.Post;

    public JobPass? Next => JobPass.Compare;

    public async Task<bool> PlanAsync()
    {
        if (!await PlanWorkAsync()) return false;
        job.Record.Plan(Kind, job.Record.Shards);
        return true;
    }

    public async Task<bool> ResumeAsync()
    {
        await PlanWorkAsync();
        return job.Record.BookOf(Kind)!.Reopen() > 0;
    }

    public string? Merge(PostPartial result)
    {
        job.Summary.AddPost(result);
        return null;
    }

    public ShardRequest Request(string jobId, ShardSpec shard, int attempt) =>
        new(jobId, job.Record.Job!, shard, attempt, Phase, ExplainPass.Chosen(job.Record, shard), _work![shard.Index]);

    public string ShardKey(string jobId, int shard, int attempt) => $"{jobId}/post/{shard}/{attempt}";

    public string? Describe(ShardBook book) => $"post pass (pruning curve, maximisation, embedding, dependence): {book.DoneCount} of {book.Shards.Length} shards";

    /// <summary>The plan merges (the embedding's PCA and label vote): CPU work, off the scheduler.</summary>
    private async Task<bool> PlanWorkAsync()
    {
        var (spec, attempts) = (job.Record.Job!, job.ExplainAttempts());
        _work = await Task.Run(() => PostPlan.For(spec, job.Summary, attempts));
        return _work is not null;
    }
}
