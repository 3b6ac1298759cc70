using ExplainCluster.Contracts;
using ExplainCluster.Engine;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.History;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Grains.Passes;

/// <summary>
/// What a job's passes and its commit share besides its record: the running merge of the accepted partials (folded in
/// shard order), the output files, and the manifest and input hashes. Rebuilt when the job's grain activates, from the
/// record and the staged outputs; none of it is persisted.
/// </summary>
public sealed class JobContext(JobRecord record, BlobLocator locator)
{
    public JobRecord Record => record;

    public JobOutputs Outputs { get; } = new(locator);

    public SummaryBuilder Summary { get; } = new();

    public Manifest? Manifest { get; set; }

    public Task<InputHashes>? Hashes { get; set; }

    /// <summary>The compare pass's parts, folded in range order as they arrive (<see cref="ComparePass"/>).</summary>
    public RangeFold Compared { get; } = new();

    /// <summary>The summary and the manifest to complete, once the job's files are in place (<see cref="PlaceAsync"/>).</summary>
    private (SummaryOutput Summary, Manifest Done)? _placed;

    /// <summary>
    /// Checks a new job (its locations, its model, its limits), plans its shards into the record, claims its output with the
    /// first manifest and plans its first pass. A fault of the job or its locations throws (<see cref="ExplainException"/>).
    /// </summary>
    /// <param name="stillRunning">Whether another job, by id, still runs (<see cref="JobOutputs.ClaimAsync"/>).</param>
    public async Task<IJobPass> StartAsync(string jobId, LocationPolicy policy, Limits limits, Func<string, Task<bool>> stillRunning)
    {
        var job = Record.Job!;
        policy.Check(job);
        if (OutputTemplate.HasPlaceholders(job.Output))
        {
            // Expanded once and recorded: the job keeps this folder wherever it runs next.
            var sha = OutputTemplate.NeedsModelHash(job.Output) ? await Outputs.Sha256Async(job.Model.Uri, "model") : null;
            Record.Job = job = job with { Output = OutputTemplate.Expand(job.Output, job.Name, jobId, DateTimeOffset.UtcNow, sha) };
            policy.Check(job);
        }
        var dataset = await Dataset.OpenAsync(job, locator, maxDecodedBytes: limits.MaxSampleBytes, policy: policy);
        var model = locator.Resolve(job.Model.Uri);
        if (!await model.ExistsAsync()) throw new ExplainException($"model {job.Model.Uri} does not exist");
        limits.Check(job, dataset, await model.LengthAsync());
        MapsOptions.CheckInput(job.Maps, dataset.SampleShape);
        Record.Samples = dataset.Count;
        var first = await BeginAsync();
        Manifest = Outputs.NewManifest(jobId, job, dataset, Record.Shards);
        await Outputs.ClaimAsync(job, Manifest, stillRunning);
        Hashes = Task.Run(() => Outputs.HashAsync(job));
        return first;
    }

    /// <summary>The job's first pass with work (the explain pass always has some), planned and recorded as the job's pass.</summary>
    public async Task<IJobPass> BeginAsync()
    {
        var first = await JobPasses.PlanAsync(JobPasses.First, this) ?? throw new InvalidOperationException("the explain pass always has work");
        Record.Pass = first.Kind;
        return first;
    }

    /// <summary>
    /// Every shard of <paramref name="current"/> is merged: it concludes (<see cref="IJobPass.Complete"/>), and the next pass
    /// with work for the job is planned and becomes the record's pass; when none is left, the job is finalizing (null).
    /// </summary>
    public async Task<IJobPass?> AdvanceAsync(IJobPass current)
    {
        current.Complete();
        var next = await JobPasses.PlanAsync(current.Next, this);
        if (next is null) Record.State = JobState.Finalizing;
        else Record.Pass = next.Kind;
        return next;
    }

    /// <summary>
    /// After the job's grain reactivated: reads its manifest and rebuilds what each pass merged (<see cref="JobPasses.ResumeAsync"/>),
    /// returning the record's pass. A job lost while finalizing whose last pass's results were not kept runs again (the shards
    /// of that pass it had finished run again). Null when the outputs were completed already (the old activation was lost
    /// before it could record so).
    /// </summary>
    public async Task<IJobPass?> ResumeAsync(CancellationToken ct)
    {
        var job = Record.Job!;
        Manifest = await Outputs.ReadManifestAsync(job, ct);
        if (Manifest.Status == Manifest.Completed)
        {
            Record.Drift = Manifest.Drift is { Length: > 0 } drift ? drift : null;
            return null;
        }
        // Before the passes resume: a compare pass places the job's files as it resumes, and placing them needs the hashes.
        Hashes = Task.Run(() => Outputs.HashAsync(job));
        var (pass, redo) = await JobPasses.ResumeAsync(this);
        if (redo) Record.State = JobState.Running;
        return pass;
    }

    /// <summary>The explain pass's accepted attempt of each shard, in shard order.</summary>
    public int[] ExplainAttempts() => [.. (Record.BookOf(JobPass.Explain)?.Done ?? []).Select(p => p.Value.Attempt)];

    /// <summary>
    /// Merges the summary and moves each shard's accepted attempts into place (<see cref="JobOutputs.PlaceAsync"/>): the
    /// explain pass's files, with the post pass's per-sample columns joined to each samples part there. Off the scheduler.
    /// Repeatable (a resumed compare pass places them again: what was moved already stays).
    /// </summary>
    public async Task PlaceAsync() => _placed = await Place()();

    /// <summary>Whether the job's files are in place (<see cref="PlaceAsync"/>).</summary>
    public bool Placed => _placed is not null;

    /// <summary>
    /// After the job's last pass: when it compares itself with a baseline and has not yet, its files are placed and the
    /// compare pass is planned and becomes the record's pass (the job runs again); null when there is nothing to compare.
    /// </summary>
    public async Task<IJobPass?> CompareAsync()
    {
        if (Record.Job!.Compare is null || Record.Books.ContainsKey(JobPass.Compare)) return null;
        await PlaceAsync();
        var pass = await JobPasses.PlanAsync(JobPass.Compare, this);
        if (pass is not null) (Record.Pass, Record.State) = (pass.Kind, JobState.Running);
        return pass;
    }

    /// <summary>
    /// Places the job's files if the compare pass has not (<see cref="PlaceAsync"/>), then completes the job
    /// (<see cref="JobOutputs.FinishAsync"/>) with the compare pass's parts folded in range order. Off the scheduler.
    /// </summary>
    /// <returns>The completed manifest (with the comparison's drift, when the job has a gate).</returns>
    public Task<Manifest> CommitAsync()
    {
        // The record no longer changes once the job is finalizing; read it here, on the grain's turn, all the same.
        var (job, placed, place, compared) = (Record.Job!, _placed, Place(), Compared.Total);
        return Task.Run(async () =>
        {
            var (summary, done) = placed ?? await place();
            return await Outputs.FinishAsync(job, done, summary, compared);
        });
    }

    /// <summary>The placing of the job's files as the record has it now; run it off the scheduler.</summary>
    private Func<Task<(SummaryOutput, Manifest)>> Place()
    {
        var (job, manifest, hashes) = (Record.Job!, Manifest!, Hashes!);
        var shards = Record.BookOf(JobPass.Explain)!.Done;
        var posted = Record.BookOf(JobPass.Post)?.Done.ToDictionary(p => p.Key, p => p.Value.Attempt);
        if (JobPlan.Of(job).Embedding is { } embedding) (Summary.EmbeddingDims, Summary.EmbeddingNeighbours) = (embedding.Dims, embedding.K);
        Summary.Settings.Use(job.Verdicts);
        return () => Task.Run(async () =>
        {
            // Merging is CPU work (the PCAs, the label vote); moving files, writing and plotting are I/O and CPU work.
            var summary = Summary.Build(job.Model.Classes);
            return (summary, await Outputs.PlaceAsync(job, manifest, summary, shards, await hashes, posted));
        });
    }

    /// <summary>Marks the manifest failed (<paramref name="error"/>) or cancelled (null), if the job got so far as to write one.</summary>
    public async Task EndAsync(string? error)
    {
        if (Manifest is null) return;
        try { await Outputs.EndAsync(Record.Job!, Manifest, error); }
        catch (Exception e) when (e is ExplainException or IOException or Azure.RequestFailedException) { /* the output cannot be written; the status still carries the outcome */ }
    }
}
