using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// Stratified subsets' selection: every shard offers its candidates (a forward pass, nothing written), merged into the
/// record as they arrive; once all have, the choice is final (<see cref="JobRecord.Chosen"/>). Skipped without subsets.
/// </summary>
public sealed class SelectPass(JobContext job) : IJobPass<SelectionPartial>
{
    private readonly Engine.Methods.Subset[] _subsets = SampleSelection.Subsets(job.Record.Job!);

    public JobPass Kind => JobPass.Select;

    public ShardPhase Phase => ShardPhase.Select;

    public JobPass? Next => JobPass.Concepts;

    public Task<bool> PlanAsync()
    {
        if (_subsets.Length == 0) return Task.FromResult(false);
        job.Record.Plan(Kind, job.Record.Shards);
        return Task.FromResult(true);
    }

    /// <summary>
    /// The candidates merged so far are in the record, with the shards they came from: a shard recorded done whose
    /// candidates the record does not hold (the job was lost between the two writes) runs again.
    /// </summary>
    public Task<bool> ResumeAsync()
    {
        if (job.Record.BookOf(Kind) is { } book)
            book.Reopen([.. book.Done.Keys.Where(s => !Merged(job.Record.CandidatesFrom, s))]);
        return Task.FromResult(false);
    }

    public string? Merge(SelectionPartial result)
    {
        if (result.Subsets.Length != _subsets.Length)
            return $"shard {result.ShardIndex}: its selection has {result.Subsets.Length} subsets, the job {_subsets.Length}";
        // Merging a shard's candidates twice would count them twice: a shard run again after a loss may have been merged already.
        var from = job.Record.CandidatesFrom ??= new byte[(job.Record.Shards.Length + 7) / 8];
        if (Merged(from, result.ShardIndex)) return null;
        job.Record.Candidates = SampleSelection.Merge(job.Record.Candidates, result.Subsets, _subsets);
        from[result.ShardIndex >> 3] |= (byte)(1 << (result.ShardIndex & 7));
        return null;
    }

    public void Complete() =>
        (job.Record.Chosen, job.Record.Candidates, job.Record.CandidatesFrom) = (SampleSelection.Chosen(job.Record.Candidates!, _subsets), null, null);

    private static bool Merged(byte[]? from, int shard) => from is not null && (from[shard >> 3] & (1 << (shard & 7))) != 0;

    public ShardRequest Request(string jobId, ShardSpec shard, int attempt) => new(jobId, job.Record.Job!, shard, attempt, Phase);

    public string ShardKey(string jobId, int shard, int attempt) => $"{jobId}/select/{shard}/{attempt}";

    public string? Describe(ShardBook book) =>
        $"choosing the samples of stratified subsets (a forward pass): {book.DoneCount} of {book.Shards.Length} shards";
}
