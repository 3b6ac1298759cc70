using ExplainCluster.Contracts;
using ExplainCluster.Engine.Compare;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// The job's comparison with a baseline run (its <c>compare</c> block), as a pass over fixed ranges of samples
/// (<see cref="ComparePart.Ranges"/>, whatever the job's shards): after the last pass the job's files are put in place
/// (<see cref="JobContext.CompareAsync"/>), then each attempt reads its range's rows of both runs' outputs and returns its part,
/// folded here in range order; the job completes with the comparison built from the fold. Skipped without a compare block,
/// or on the first run of a history (nothing to compare with). Its parts are not persisted: on resume the ranges it had
/// finished run again.
/// </summary>
public sealed class ComparePass(JobContext job) : IJobPass<ComparedPartial>
{
    private string? _baseline;

    public JobPass Kind => JobPass.Compare;

    public ShardPhase Phase => ShardPhase.Compare;

    public JobPass? Next => null;

    /// <summary>
    /// Only once the job's files are in place (<see cref="JobContext.CompareAsync"/> places them after the last pass, off the
    /// grain's turn): followed from the post pass before that, the pass has no work yet.
    /// </summary>
    public async Task<bool> PlanAsync()
    {
        if (!job.Placed || !await PlanWorkAsync()) return false;
        job.Record.Plan(Kind, ComparePart.Ranges(job.Manifest!.Samples));
        return true;
    }

    public async Task<bool> ResumeAsync()
    {
        await job.PlaceAsync();
        await PlanWorkAsync();
        return job.Record.BookOf(Kind)!.Reopen() > 0;
    }

    /// <summary>Parts arrive in any order and are folded in range order (<see cref="RangeFold"/>); the commit builds the comparison from the fold.</summary>
    public string? Merge(ComparedPartial result)
    {
        job.Compared.Add(result.ShardIndex, result.Part);
        return null;
    }

    public ShardRequest Request(string jobId, ShardSpec shard, int attempt) => new(jobId, job.Record.Job!, shard, attempt, Phase, Baseline: _baseline);

    public string ShardKey(string jobId, int shard, int attempt) => $"{jobId}/compare/{shard}/{attempt}";

    public string? Describe(ShardBook book) => $"comparing with the baseline run: {book.DoneCount} of {book.Shards.Length} ranges of samples";

    /// <summary>The baseline, if the job has one and its history holds one.</summary>
    private async Task<bool> PlanWorkAsync()
    {
        var spec = job.Record.Job!;
        if (spec.Compare is not { } compare) return false;
        _baseline = await job.Outputs.BaselineAsync(spec, compare, job.Manifest!.JobId);
        return _baseline is not null;
    }
}

/// <summary>
/// The compare pass's parts folded in range order as they arrive, so that the coordinator holds the fold and the parts that
/// came before their predecessors, not every part until commit (each part carries its range's per-sample agreement, its
/// |map| sums and the CKA's d × d sums; in the million-sample benchmark the coordinator's silo peaked about 600 MB above the
/// other while it held them all). Folding a part is additions and list appends, small enough for the grain's turn. A range
/// that runs again in the same activation (its report came twice) is ignored: its part is the one folded already.
/// </summary>
public sealed class RangeFold
{
    private readonly SortedDictionary<int, byte[]> _waiting = [];
    private int _next;

    /// <summary>The parts of ranges 0 to the first missing one, folded; null before range 0 arrives.</summary>
    public ComparePart? Total { get; private set; }

    /// <summary>Parts waiting for a range before them.</summary>
    public int Waiting => _waiting.Count;

    /// <param name="range">The part's range index (a range folded already is ignored: its report came twice).</param>
    public void Add(int range, byte[] part)
    {
        if (range < _next) return;
        _waiting[range] = part;
        while (_waiting.Remove(_next, out var next))
        {
            Total = ComparePart.Fold(Total, ComparePart.Decode(next));
            _next++;
        }
    }
}
