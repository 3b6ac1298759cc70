using ExplainCluster.Contracts;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Grains.Passes;

namespace ExplainCluster.Grains;

/// <summary>
/// Everything a job grain needs to carry on after it reactivates on any silo: the job, its state, the pass it is in
/// and each pass's shard attempts. The grain works on this record directly; nothing of it is mirrored elsewhere.
/// </summary>
[GenerateSerializer, Alias("ec.JobRecord")]
public sealed class JobRecord
{
    [Id(0)] public JobSpec? Job { get; set; }

    [Id(1)] public JobState State { get; set; }

    [Id(2)] public string? Error { get; set; }

    // Ids 3 (the current pass's attempts) and 4 (whether they were the selection's) gave way to Pass and Books.

    /// <summary>The selection pass's candidates kept so far, per stratified subset; null before any shard offered some.</summary>
    [Id(5)] public StratumCandidate[][]? Candidates { get; set; }

    /// <summary>Once the selection pass is over, each stratified subset's chosen dataset indices (ascending).</summary>
    [Id(6)] public long[][]? Chosen { get; set; }

    /// <summary>The pass the job is in; once finalizing, the last pass that ran.</summary>
    [Id(7)] public JobPass Pass { get; set; }

    /// <summary>Each pass's shard attempts (<see cref="ShardBook"/>), kept after the pass: the commit moves the accepted attempts' files.</summary>
    [Id(8)] public Dictionary<JobPass, ShardRecord[]> Books { get; set; } = [];

    /// <summary>The job's shards, planned when it started; every pass runs each of them.</summary>
    [Id(9)] public ShardSpec[] Shards { get; set; } = [];

    /// <summary>A completed job's drift: the comparison gate's crossed thresholds (manifest.json's <c>drift</c>); null when none.</summary>
    [Id(10)] public string[]? Drift { get; set; }

    /// <summary>The current pass's attempts.</summary>
    public ShardBook Book => new(Books.GetValueOrDefault(Pass) ?? []);

    /// <summary>A pass's attempts; null before it was planned (or for a pass the job skipped).</summary>
    public ShardBook? BookOf(JobPass pass) => Books.TryGetValue(pass, out var records) ? new ShardBook(records) : null;

    public bool IsOver => State is not (JobState.Running or JobState.Finalizing);

    /// <summary>
    /// The job's status: shards and samples count the explain pass (nothing is explained while selecting);
    /// <paramref name="pass"/> describes the current pass while it runs (<see cref="IJobPass.Describe"/>).
    /// </summary>
    public JobStatus Status(IJobPass? pass, bool noWorker)
    {
        var current = Book;
        // While the concepts pass trains (one unit of work, no samples), the job's shards are still all to explain.
        var explain = BookOf(JobPass.Explain) ?? (Pass == JobPass.Concepts ? ShardBook.Plan(Shards) : current);
        var explained = Books.ContainsKey(JobPass.Explain);
        return new(
            State, explain.Shards.Length, explained ? explain.DoneCount : 0, explain.Shards.Sum(s => s.Count), explained ? explain.SamplesDone : 0, Error,
            Redaction.Location(Job?.Output ?? ""), [.. explain.Done.OrderBy(p => p.Key).Select(p => p.Value.Silo)], explain.Attempts, Job?.Name ?? "",
            State == JobState.Running && current.Waiting().Any() && noWorker
                ? "no model-host silo is active (ModelHost:Enabled=true): the job's shards wait for one to join" : null,
            State is JobState.Finalizing or JobState.Completed || !Books.ContainsKey(Pass) ? null : pass?.Describe(current),
            State == JobState.Completed ? Drift : null);
    }
}
