using ExplainCluster.Contracts;
using ExplainCluster.Engine.ErrorTree;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// A table's error tree, grown one level per run of this pass (<see cref="ErrorTreeGrowth"/>): planned from the explain pass's merge
/// (the bins), each level's attempts count the shard's rows into the open nodes' histograms (keys <c>id/tree/L/s/a</c>), folded as they
/// arrive; once every shard is in, the level's splits are chosen and the tree so far goes into the record (<see cref="JobRecord.Tree"/>),
/// and the pass is planned again for the next level (its book reopened: attempt numbers go on, so a late report of a level is never
/// taken for the next). On resume the finished levels are in the record; only the level in progress runs again. Skipped without a tree.
/// </summary>
public sealed class TreePass(JobContext job) : IJobPass<TreeLevelPartial>
{
    private ErrorTreeGrowth? _growth;
    private ErrorTreeLevel.Fold? _fold;

    public JobPass Kind => JobPass.Tree;

    public ShardPhase Phase => ShardPhase.Tree;

    /// <summary>This pass again while a level is left, then the post pass.</summary>
    public JobPass? Next => job.Record.Tree is { } tree && !(_growth ?? ErrorTreeGrowth.Decode(tree)).Done ? JobPass.Tree : JobPass.Post;

    public Task<bool> PlanAsync()
    {
        var sums = job.Summary.Sums<ErrorTreeFeature.Sums>();
        if (job.Record.Tree is null)
        {
            if (sums?.Begin() is not { } begun) return Task.FromResult(false);
            job.Record.Tree = begun.Encode();
            job.Record.Plan(Kind, job.Record.Shards);
        }
        else if (!Load())
            return Task.FromResult(false);
        else job.Record.BookOf(Kind)!.Reopen();
        _fold = new ErrorTreeLevel.Fold(_growth ??= ErrorTreeGrowth.Decode(job.Record.Tree));
        return Task.FromResult(true);
    }

    /// <summary>The finished levels are in the record: a grown tree goes to the summary; the level in progress runs again.</summary>
    public Task<bool> ResumeAsync()
    {
        if (job.Record.Tree is null || !Load()) return Task.FromResult(false);
        _fold = new ErrorTreeLevel.Fold(_growth!);
        return Task.FromResult(job.Record.BookOf(Kind)!.Reopen() > 0);
    }

    /// <summary>
    /// Adds the shard's counts to the level's fold. Counts of another level (a job lost after its shards' records were written for
    /// the next level and before its own record was: the attempts of that level are current in the book) send the shard round again.
    /// </summary>
    public string? Merge(TreeLevelPartial result)
    {
        if (ErrorTreeLevel.LevelOf(result.Counts) != _fold!.Level)
        {
            job.Record.BookOf(Kind)!.Reopen([result.ShardIndex]);
            return null;
        }
        return _fold.Add(result.Counts) is { } error ? $"shard {result.ShardIndex}: {error}" : null;
    }

    /// <summary>The level's splits chosen from the fold; the tree so far recorded.</summary>
    public void Complete()
    {
        _growth!.Complete(_fold!);
        job.Record.Tree = _growth.Encode();
        if (_growth.Done) job.Summary.Sums<ErrorTreeFeature.Sums>()!.Grown = _growth;
    }

    public ShardRequest Request(string jobId, ShardSpec shard, int attempt) =>
        new(jobId, job.Record.Job!, shard, attempt, Phase, Tree: job.Record.Tree, ExplainAttempt: job.Record.BookOf(JobPass.Explain)!.Records[shard.Index].Attempt);

    public string ShardKey(string jobId, int shard, int attempt) => $"{jobId}/tree/{_growth!.Level}/{shard}/{attempt}";

    public string? Describe(ShardBook book) =>
        // Counted from 1: a tree of depth d counts its shards d + 1 times (the last for its leaves); once grown the level is past them.
        $"error tree, level {Math.Min(_growth!.Level, _growth.Options.Depth) + 1} of {_growth.Options.Depth + 1}: {book.DoneCount} of {book.Shards.Length} shards";

    /// <summary>The record's tree; false when it is grown (then the summary has it).</summary>
    private bool Load()
    {
        _growth = ErrorTreeGrowth.Decode(job.Record.Tree!);
        if (!_growth.Done) return true;
        job.Summary.Sums<ErrorTreeFeature.Sums>()!.Grown = _growth;
        return false;
    }
}
