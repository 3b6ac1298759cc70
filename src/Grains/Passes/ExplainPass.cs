using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// The shards' explanations: each attempt stages its files and partial statistics in its own folder; the accepted
/// partials are folded in shard order (<see cref="JobContext.Summary"/>), and re-read from the staging on resume.
/// </summary>
public sealed class ExplainPass(JobContext job) : IJobPass<ShardPartial>
{
    public JobPass Kind => JobPass.Explain;

    public ShardPhase Phase => ShardPhase.Explain;

    public JobPass? Next => JobPass.Tree;

    public Task<bool> PlanAsync()
    {
        job.Record.Plan(Kind, job.Record.Shards);
        return Task.FromResult(true);
    }

    public async Task<bool> ResumeAsync()
    {
        foreach (var (shard, run) in job.Record.BookOf(Kind)!.Done) job.Summary.Add(await job.Outputs.ReadPartialAsync(job.Record.Job!, shard, run.Attempt));
        return false;
    }

    /// <summary>A partial sent by reference: the statistics are in the attempt's staged partial.bin (read off the scheduler).</summary>
    public async Task<ShardPartial> ReceiveAsync(ShardPartial result)
    {
        if (!result.Staged) return result;
        var spec = job.Record.Job!;
        return await Task.Run(() => job.Outputs.ReadPartialAsync(spec, result.ShardIndex, result.Attempt));
    }

    public string? Merge(ShardPartial result)
    {
        job.Summary.Add(result);
        return Engine.Data.Images.BadSamplesFeature.Exceeded(job.Summary, job.Record.Job!);
    }

    public ShardRequest Request(string jobId, ShardSpec shard, int attempt) =>
        new(jobId, job.Record.Job!, shard, attempt, Phase, Chosen(job.Record, shard), ConceptsAttempt: ConceptsPass.Accepted(job.Record));

    public string ShardKey(string jobId, int shard, int attempt) => $"{jobId}/{shard}/{attempt}";

    public string? Describe(ShardBook book) => null;

    /// <summary>The stratified subsets' choice within <paramref name="shard"/> (<see cref="ShardRequest.Chosen"/>); null without subsets.</summary>
    public static long[][]? Chosen(JobRecord record, ShardSpec shard) =>
        record.Chosen is { } chosen ? SampleSelection.Within(chosen, SampleSelection.Subsets(record.Job!), shard.Start, shard.Count) : null;
}
