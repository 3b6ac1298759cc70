using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
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

    /// <summary>
    /// Which shards' candidates <see cref="Candidates"/> holds (bit s: shard s), written with them. A shard's own record is
    /// written apart (<see cref="ShardJournal"/>), so after a loss the two can disagree either way: a shard recorded done whose
    /// bit is clear runs again, and one whose bit is set is not merged twice. Null outside the selection pass.
    /// </summary>
    [Id(14)] public byte[]? CandidatesFrom { get; set; }

    /// <summary>Once the selection pass is over, each stratified subset's chosen dataset indices (ascending).</summary>
    [Id(6)] public long[][]? Chosen { get; set; }

    /// <summary>
    /// The error tree grown so far (<see cref="Engine.ErrorTree.ErrorTreeGrowth.Encode"/>): its bins, the splits of the levels the tree pass
    /// finished and the level it counts now; null before the tree pass (or without a tree). A few KB, whatever the table's rows.
    /// </summary>
    [Id(15)] public byte[]? Tree { get; set; }

    /// <summary>The pass the job is in; once finalizing, the last pass that ran.</summary>
    [Id(7)] public JobPass Pass { get; set; }

    /// <summary>
    /// Each pass's shard attempts, kept after the pass (the commit moves the accepted attempts' files). Not part of the
    /// record: each shard's attempts are written apart (<see cref="ShardJournal"/>), so that a shard's completion writes a
    /// few records, not the whole job's (<see cref="BookSizes"/> says which books there are, and how large).
    /// </summary>
    public Dictionary<JobPass, ShardBook> Books => _books;

    [NonSerialized] private readonly Dictionary<JobPass, ShardBook> _books = [];

    /// <summary>Each pass's book's shard count: which books <see cref="ShardJournal"/> holds for the job.</summary>
    [Id(11)] public Dictionary<JobPass, int> BookSizes { get; set; } = [];

    /// <summary>The dataset's sample count: the job's shards are <see cref="Dataset.Plan"/> of it, planned when it started.</summary>
    [Id(12)] public long Samples { get; set; }

    /// <summary>A completed job's drift: the comparison gate's crossed thresholds (manifest.json's <c>drift</c>); null when none.</summary>
    [Id(10)] public string[]? Drift { get; set; }

    /// <summary>The job's status as it ended, so an ended job answers without reading its books.</summary>
    [Id(13)] public JobStatus? Ended { get; set; }

    [NonSerialized] private ShardSpec[]? _shards;
    [NonSerialized] private long _plannedFor = -1;

    /// <summary>The job's shards; every pass but compare runs each of them.</summary>
    public ShardSpec[] Shards => Job is null ? [] : _shards is { } planned && _plannedFor == Samples ? planned : _shards = Dataset.Plan(_plannedFor = Samples, Job.ShardSize);

    /// <summary>The current pass's attempts.</summary>
    public ShardBook Book => Books.GetValueOrDefault(Pass) ?? Empty;

    /// <summary>A pass's attempts; null before it was planned (or for a pass the job skipped).</summary>
    public ShardBook? BookOf(JobPass pass) => Books.GetValueOrDefault(pass);

    /// <summary>Plans a pass's book: every one of <paramref name="shards"/> waits for its first attempt.</summary>
    public void Plan(JobPass pass, ShardSpec[] shards)
    {
        Books[pass] = ShardBook.Plan(shards);
        BookSizes[pass] = shards.Length;
    }

    /// <summary>Forgets a pass's book (a pass planned afresh later).</summary>
    public void Drop(JobPass pass)
    {
        Books.Remove(pass);
        BookSizes.Remove(pass);
    }

    private static readonly ShardBook Empty = new([]);

    public bool IsOver => State is not (JobState.Running or JobState.Finalizing);

    /// <summary>
    /// The job's status: shards and samples count the explain pass (nothing is explained while selecting);
    /// <paramref name="pass"/> describes the current pass while it runs (<see cref="IJobPass.Describe"/>).
    /// </summary>
    public JobStatus Status(IJobPass? pass, bool noWorker)
    {
        if (IsOver && Ended is { } ended) return ended;
        var current = Book;
        // While the concepts pass trains (one unit of work, no samples), the job's shards are still all to explain.
        var explain = BookOf(JobPass.Explain);
        var shards = explain?.Shards.Length ?? (Pass == JobPass.Concepts ? Shards.Length : current.Shards.Length);
        var samples = explain?.SamplesTotal ?? (Pass == JobPass.Concepts ? Samples : current.SamplesTotal);
        return new(
            State, shards, explain?.DoneCount ?? 0, samples, explain?.SamplesDone ?? 0, Error,
            Redaction.Location(Job?.Output ?? ""), new((explain ?? current).DoneBySilo, StringComparer.Ordinal), (explain ?? current).Attempts, Job?.Name ?? "",
            State == JobState.Running && current.WaitingCount > 0 && noWorker
                ? "no model-host silo is active (ModelHost:Enabled=true): the job's shards wait for one to join" : null,
            State is JobState.Finalizing or JobState.Completed || !Books.ContainsKey(Pass) ? null : pass?.Describe(current),
            State == JobState.Completed ? Drift : null);
    }
}
