using ExplainCluster.Contracts;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// TCAV's concept activation vectors, trained once per job before the explanations: one attempt on a model host reads the
/// concept and random examples, takes their activations at the layer and trains every CAV (<see cref="Engine.Concepts.ConceptVectors"/>),
/// staging them in the job's output; the explain pass's attempts read the accepted attempt's file, so every shard uses the same
/// vectors however the job is sharded. What it merged is the accepted attempt, in the record's book. Skipped without a concepts block.
/// </summary>
public sealed class ConceptsPass(JobContext job) : IJobPass<ConceptsTrained>
{
    public JobPass Kind => JobPass.Concepts;

    public ShardPhase Phase => ShardPhase.Concepts;

    public JobPass? Next => JobPass.Explain;

    public Task<bool> PlanAsync()
    {
        if (job.Record.Job!.Concepts is null) return Task.FromResult(false);
        // One unit of work for the whole job: the concept sets are read whole, not by shard.
        job.Record.Plan(Kind, [new ShardSpec(0, 0, 0)]);
        return Task.FromResult(true);
    }

    /// <summary>The accepted attempt is in the record; its staged vectors stay until the job completes.</summary>
    public Task<bool> ResumeAsync() => Task.FromResult(false);

    public string? Merge(ConceptsTrained result) => result.Vectors > 0 ? null : "concepts: no concept activation vector was trained";

    public ShardRequest Request(string jobId, ShardSpec shard, int attempt) => new(jobId, job.Record.Job!, shard, attempt, Phase);

    public string ShardKey(string jobId, int shard, int attempt) => $"{jobId}/concepts/{shard}/{attempt}";

    public string? Describe(ShardBook book) => "training the concept activation vectors (TCAV)";

    /// <summary>The attempt whose vectors the explanations read; 0 when the job has none.</summary>
    public static int Accepted(JobRecord record) =>
        record.BookOf(JobPass.Concepts)?.Done.Select(p => p.Value.Attempt).FirstOrDefault() ?? 0;
}
