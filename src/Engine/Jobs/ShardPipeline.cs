using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// One shard end to end: ranged read, tensor work on the model host, outputs written, partial returned.
/// At most one shard per host thread plus one more (reading or writing) is admitted at a time, so a
/// silo holds a bounded number of shards in memory however many a job hands it. A watchdog fails a shard one
/// of whose batches runs longer than <see cref="Limits.BatchTimeout"/>, and the host replaces the stuck thread.
/// </summary>
public sealed class ShardPipeline(ModelHost host, BlobLocator locator, LocationPolicy? policy = null, Limits? limits = null)
{
    private readonly Limits _limits = limits ?? new Limits();
    private readonly SemaphoreSlim _admission = new(host.ShardCapacity);

    /// <summary>
    /// A table job's background rows (kernel-shap's, permutation-shap's), all of them, read once per job on this silo: every shard
    /// of a job reads the same rows, and in a Parquet table each lies in a row group of its own that is decoded whole for it (20
    /// rows of a 1,000,000-row table cost 16 decoded groups). Keyed by the job as written (its features' encodings make the rows'
    /// vectors), its output, the table's files' versions and the rows. All the rows, not those outside the shard: a shard that
    /// holds one of them would otherwise be a key of its own and read the other rows again (a third of the 1,000,000-row
    /// job's shards, and most of a silo's allocation in its explain pass: docs/benchmarks.md).
    /// </summary>
    private readonly RecentTasks<(string Job, string Output, string Version, string Rows), RowSet> _background = new(8);

    /// <summary>The error tree's rows of a job's shards from one level to the next (<see cref="ErrorTree.TreeRowsCache"/>).</summary>
    private readonly ErrorTree.TreeRowsCache _treeRows = new((limits ?? new Limits()).TreeRowsBytes);

    /// <summary>How many shards' error-tree rows this silo keeps now.</summary>
    public int TreeRowsKept => _treeRows.Count;

    /// <summary>How many times this silo has read a job's background rows (once per job, unless dropped).</summary>
    public int BackgroundReads => _background.Computed;
    private int _inFlight;
    private int _peakInFlight;

    /// <summary>The most shards this pipeline has held at once.</summary>
    public int PeakInFlight => Volatile.Read(ref _peakInFlight);

    /// <summary>
    /// Computes attempt <paramref name="attempt"/> at <paramref name="shard"/> and stages its files under
    /// <see cref="OutputLayout.Attempt"/>; the job moves the accepted attempt's files into place when it completes.
    /// </summary>
    /// <param name="chosen">The job's choice for its stratified subsets within this shard (<see cref="ShardRequest.Chosen"/>).</param>
    /// <param name="conceptsAttempt">The concepts pass's accepted attempt, whose staged CAVs the shard reads; 0 to train them here (a shard run outside a job).</param>
    public async Task<ShardPartial> RunAsync(JobSpec job, ShardSpec shard, int attempt, string silo, CancellationToken ct = default, long[][]? chosen = null,
        int conceptsAttempt = 0)
    {
        var partial = await AdmitAsync(silo, () => RunAdmittedAsync(job, shard, attempt, silo, chosen, conceptsAttempt, ct), ct);
        ExplainMetrics.Samples.Add(partial.Count, new KeyValuePair<string, object?>("silo", silo));
        return partial;
    }

    /// <summary>The selection pass of a job's stratified subsets over one shard (<see cref="SampleSelection"/>): a forward pass, nothing written.</summary>
    public Task<SelectionPartial> SelectAsync(JobSpec job, ShardSpec shard, int attempt, string silo, CancellationToken ct = default) =>
        AdmitAsync(silo, async () =>
        {
            using var activity = ShardExplainer.Activities.StartActivity("shard.select");
            activity?.SetTag("explain.shard", shard.Index);
            activity?.SetTag("explain.silo", silo);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var (model, data) = await ReadAsync(job, shard, segments: false, ct);
            var candidates = await OnHostAsync(model, silo, clock => SampleSelection.Compute(model, job, data, ct, clock));
            ct.ThrowIfCancellationRequested();
            return new SelectionPartial(shard.Index, attempt, silo, watch.Elapsed.TotalSeconds, candidates);
        }, ct);

    /// <summary>A shard's work after the job's explanations (<see cref="PostWorker"/>): nothing written, results in the partial.</summary>
    /// <param name="chosen">The job's stratified choices within this shard (the pruning sample among them).</param>
    public Task<PostPartial> PostAsync(JobSpec job, ShardSpec shard, int attempt, string silo, PostWork work, long[][]? chosen, CancellationToken ct = default) =>
        AdmitAsync(silo, async () =>
        {
            using var activity = ShardExplainer.Activities.StartActivity("shard.post");
            activity?.SetTag("explain.shard", shard.Index);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var plan = JobPlan.Of(job);
            var rows = plan.PruningSample is not { } pruning || chosen is null ? null : plan.Chosen(chosen, pruning);
            if (work.Objectives.Length == 0 && rows is not { Length: > 0 } && work.Embedding is null && work.Dependence is null)
                return new PostPartial(shard.Index, attempt, silo, 0, null, []); // nothing of this job's post work is here
            var (model, data) = await ReadAsync(job, shard, segments: false, ct);
            var (curve, images, coordinates) = await OnHostAsync(model, silo, clock => Views.PostWorker.Compute(model, job, data, work, rows, ct, clock));
            var dependence = work.Dependence is { } d
                ? Dependence.DependenceFeature.EncodePost(await OnHostAsync(model, silo, clock => Dependence.DependenceWorker.Compute(model, job, data, d, ct, clock)))
                : null;
            ct.ThrowIfCancellationRequested();
            if (coordinates is not null && work.Embedding is { } basis)
                await StorageFault.WritingAsync(job.Output, $"writing shard {shard.Index}'s embedding", async () =>
                {
                    // In this attempt's own staging (never the explain pass's): the job moves and joins them when it completes.
                    var staged = locator.Resolve(job.Output).Child(OutputLayout.PostAttempt(shard.Index, attempt));
                    await staged.Child(OutputLayout.EmbeddingPart(shard.Index)).WriteAsync(NpyFormat.Encode(coordinates, [data.Count, basis.Dims]), ct);
                    // And as parquet columns for the samples part: embedding_0.., and knn_agreement for the label vote's samples (null for the others).
                    var columns = Enumerable.Range(0, basis.Dims)
                        .Select(d => ($"embedding_{d}", Enumerable.Range(0, data.Count).Select(i => (float?)coordinates[i * basis.Dims + d]).ToArray())).ToList();
                    if (work.VoteIndex is { } voted)
                    {
                        var agreement = new float?[data.Count];
                        for (var j = 0; j < voted.Length; j++) agreement[ShardExplainer.Row(data, voted[j])] = work.VoteAgreement![j];
                        columns.Add(("knn_agreement", agreement));
                    }
                    await staged.Child(OutputLayout.SampleColumns).WriteAsync(await ParquetColumns.WriteAsync(columns, ct), ct);
                });
            return new PostPartial(shard.Index, attempt, silo, watch.Elapsed.TotalSeconds, curve, images, dependence);
        }, ct);

    /// <summary>
    /// One level of a table's error tree over a shard (<see cref="ErrorTree.ErrorTreeLevel"/>): the shard's rows read again, its predictions
    /// and attributions from the explain attempt's staged parts (no model is run), counted into the open nodes' histograms. Nothing written.
    /// </summary>
    /// <param name="tree">The tree so far (<see cref="ErrorTree.ErrorTreeGrowth.Encode"/>).</param>
    /// <param name="explainAttempt">The shard's accepted explain attempt, whose staged parts hold its predictions and attributions.</param>
    public Task<TreeLevelPartial> TreeAsync(JobSpec job, ShardSpec shard, int attempt, string silo, byte[] tree, int explainAttempt, CancellationToken ct = default) =>
        AdmitAsync(silo, async () =>
        {
            using var activity = ShardExplainer.Activities.StartActivity("shard.tree");
            activity?.SetTag("explain.shard", shard.Index);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            (policy ?? LocationPolicy.Unrestricted).Check(job);
            var growth = ErrorTree.ErrorTreeGrowth.Decode(tree);
            var staged = locator.Resolve(job.Output).Child(OutputLayout.Attempt(shard.Index, explainAttempt));
            // The shard's codes and errors from the level before on this silo, or its rows read from the table again.
            var key = new ErrorTree.TreeRowsKey($"{job.Output}\n{job.SourceJson}", shard.Index, explainAttempt, growth.ColumnsKey);
            // Else the rows a tree attempt staged beside the explain attempt's parts at an earlier level (on any silo), else the table.
            if (_treeRows.Get(key) is not { } rows)
            {
                var stagedRows = staged.Child(OutputLayout.TreeRows(growth.ColumnsKey));
                // The first level has nothing staged to find (a retried attempt at it computes the rows again).
                rows = growth.Level > 0 ? await ReadTreeRowsAsync(stagedRows, ct) : null;
                if (rows is null)
                {
                    var dataset = await Dataset.OpenAsync(job, locator, ct, _limits.MaxSampleBytes, policy);
                    var data = await dataset.ReadAsync(shard, ct);
                    var predictions = await ErrorTree.StagedParts.PredictionsAsync(staged.Child(OutputLayout.SamplesPart(shard.Index)), ct);
                    rows = await Task.Run(() => ErrorTree.TreeRows.Of(growth, job.Data.Table!, data, predictions, ct), ct);
                    if (rows.Compact && growth.Level < growth.Options.Depth)
                    {
                        var encoded = System.Buffers.ArrayPool<byte>.Shared.Rent(rows.EncodedLength);
                        try
                        {
                            rows.Encode(encoded);
                            await stagedRows.WriteAsync(encoded.AsMemory(0, rows.EncodedLength), ct);
                        }
                        finally { System.Buffers.ArrayPool<byte>.Shared.Return(encoded); }
                    }
                }
                _treeRows.Keep(key, rows);
            }
            // Each method's attributions added a feature column at a time, as they are read: a method's [rows, features] is never held whole.
            var counter = await Task.Run(() => new ErrorTree.ErrorTreeLevel.Counter(growth, rows, ct), ct);
            string[] features = [.. growth.Features.Select(x => x.Name)];
            for (var m = 0; m < growth.Methods.Length; m++)
            {
                int[] shardRows = [];
                var method = m;
                await ErrorTree.StagedParts.ColumnsAsync(staged.Child(OutputLayout.AttributionTable(growth.Methods[m], shard.Index)), features, (j, values) =>
                {
                    if (j < 0) shardRows = counter.Explained(method, values);
                    else counter.Add(method, j, shardRows, values);
                }, ct);
            }
            var counts = counter.Encode();
            if (growth.Level >= growth.Options.Depth) _treeRows.Drop(key); // the tree's last level
            return new TreeLevelPartial(shard.Index, attempt, silo, watch.Elapsed.TotalSeconds, counts);
        }, ct);

    /// <summary>A shard's staged tree rows, or null when none were staged (or the file is not such rows: the table is read instead).</summary>
    private static async Task<ErrorTree.TreeRows?> ReadTreeRowsAsync(IBlob blob, CancellationToken ct) =>
        await blob.StatAsync(ct) is { } stat && stat.Length <= int.MaxValue
            ? ErrorTree.TreeRows.Decode(await blob.ReadRangeAsync(0, (int)stat.Length, ct))
            : null;

    /// <summary>
    /// The concepts pass (TCAV): the job's concept activation vectors, trained once on this silo's model host from the concept and
    /// random examples, staged in the output for the explain attempts (<see cref="OutputLayout.ConceptsAttempt"/>).
    /// </summary>
    public Task<ConceptsTrained> ConceptsAsync(JobSpec job, ShardSpec unit, int attempt, string silo, CancellationToken ct = default) =>
        AdmitAsync(silo, async () =>
        {
            using var activity = ShardExplainer.Activities.StartActivity("shard.concepts");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var vectors = await TrainConceptsAsync(job, await host.GetModelAsync(job.Model.Uri, ct), silo, ct);
            ct.ThrowIfCancellationRequested();
            await StorageFault.WritingAsync(job.Output, "writing the concept activation vectors", () =>
                locator.Resolve(job.Output).Child(OutputLayout.ConceptsAttempt(attempt)).WriteAsync(vectors.Encode(), ct));
            return new ConceptsTrained(unit.Index, attempt, silo, watch.Elapsed.TotalSeconds, vectors.Count);
        }, ct);

    /// <summary>The concept and random examples read (I/O, off the host), then the CAVs trained on a model-host thread.</summary>
    private async Task<Concepts.ConceptVectors> TrainConceptsAsync(JobSpec job, ExplainModel model, string silo, CancellationToken ct)
    {
        (policy ?? LocationPolicy.Unrestricted).Check(job);
        var sets = await Concepts.ConceptSets.ReadAsync(job, locator, ct, _limits.MaxSampleBytes, policy);
        return await OnHostAsync(model, silo, clock => Concepts.ConceptVectors.Train(model, job, sets, ct, clock));
    }

    /// <summary>The job's CAVs for an explain attempt: the concepts pass's staged file, or trained here for a shard run outside a job.</summary>
    private async Task<Concepts.ConceptVectors?> ConceptsOfAsync(JobSpec job, ExplainModel model, int conceptsAttempt, string silo, CancellationToken ct)
    {
        if (job.Concepts is null) return null;
        if (conceptsAttempt == 0) return await TrainConceptsAsync(job, model, silo, ct);
        var blob = locator.Resolve(job.Output).Child(OutputLayout.ConceptsAttempt(conceptsAttempt));
        return Concepts.ConceptVectors.Decode(await blob.ReadRangeAsync(0, checked((int)await blob.LengthAsync(ct)), ct), blob.Location);
    }

    /// <summary>
    /// The job's comparison with <paramref name="baseline"/> over the samples of <paramref name="range"/> (<see cref="Compare.ComparePart"/>),
    /// once the job's outputs are in place: both runs' rows read from their outputs, both models run for the representation's
    /// CKA on this silo's model host. Nothing written.
    /// </summary>
    public Task<ComparedPartial> CompareAsync(JobSpec job, ShardSpec range, int attempt, string silo, string baseline, CancellationToken ct = default) =>
        AdmitAsync(silo, async () =>
        {
            using var activity = ShardExplainer.Activities.StartActivity("shard.compare");
            activity?.SetTag("explain.shard", range.Index);
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var (a, b) = await Compare.Comparer.OpenAsync(locator, baseline, job.Output, candidateFinishing: true, ct);
            var same = Compare.Comparer.SameInputs(a, b);
            var part = await Compare.ComparePart.ComputeAsync(a, b, same, range.Start, range.Count, new Compare.RepresentationComparison(host, locator), ct);
            ct.ThrowIfCancellationRequested();
            return new ComparedPartial(range.Index, attempt, silo, watch.Elapsed.TotalSeconds, part.Encode());
        }, ct);

    /// <summary>Runs <paramref name="work"/> once admitted, counted in the in-flight metric and the shard duration.</summary>
    private async Task<T> AdmitAsync<T>(string silo, Func<Task<T>> work, CancellationToken ct)
    {
        await _admission.WaitAsync(ct);
        var tag = new KeyValuePair<string, object?>("silo", silo);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        ExplainMetrics.InFlight.Add(1, tag);
        var now = Interlocked.Increment(ref _inFlight);
        for (var peak = PeakInFlight; now > peak; peak = PeakInFlight) Interlocked.CompareExchange(ref _peakInFlight, now, peak);
        try
        {
            var result = await work();
            ExplainMetrics.ShardDuration.Record(watch.Elapsed.TotalSeconds, tag);
            return result;
        }
        finally
        {
            ExplainMetrics.InFlight.Add(-1, tag);
            Interlocked.Decrement(ref _inFlight);
            _admission.Release();
            _ = Task.Run(Models.NativeHeap.Trim); // the shard's freed tensors' pages go back (NativeHeap), off the caller's scheduler
        }
    }

    private async Task<ShardPartial> RunAdmittedAsync(JobSpec job, ShardSpec shard, int attempt, string silo, long[][]? chosen, int conceptsAttempt, CancellationToken ct)
    {
        using var activity = ShardExplainer.Activities.StartActivity("shard.run");
        activity?.SetTag("explain.shard", shard.Index);
        activity?.SetTag("explain.silo", silo);
        activity?.SetTag("explain.attempt", attempt);
        var (model, data) = await ReadAsync(job, shard, segments: true, ct, JobPlan.Of(job).BackgroundRows(chosen));
        var concepts = await ConceptsOfAsync(job, model, conceptsAttempt, silo, ct);
        var result = await OnHostAsync(model, silo, clock => ShardExplainer.Compute(model, job, data, ct, clock, chosen, concepts));
        ct.ThrowIfCancellationRequested();
        var (partial, scalars) = ShardStatistics.Build(shard, result, data, job.Data.Preprocess.Scale, silo);
        var output = locator.Resolve(job.Output);
        partial = partial with { Attempt = attempt };
        await StorageFault.WritingAsync(job.Output, $"writing shard {shard.Index}", async () =>
        {
            await ShardWriter.WriteAsync(output.Child(OutputLayout.Attempt(shard.Index, attempt)), shard.Index, result, scalars, ct, JobPlan.Of(job).Features?.Names,
                data.Metadata, data.Bad, new StoredMaps(job.Maps ?? MapsSpec.Default, data.SampleShape));
            // Last: a partial on disk means the attempt's files are all there.
            await output.Child(OutputLayout.Partial(shard.Index, attempt)).WriteAsync(PartialCodec.Encode(partial), ct);
        });
        return partial;
    }

    /// <summary>
    /// The job's model and the shard's data, with its segments when a method of the job uses them, and the rows at
    /// <paramref name="background"/> that lie in other shards when there are any (a table's: all of <paramref name="background"/>, read once per job).
    /// </summary>
    private async Task<(ExplainModel Model, ShardData Data)> ReadAsync(JobSpec job, ShardSpec shard, bool segments, CancellationToken ct, long[]? background = null)
    {
        (policy ?? LocationPolicy.Unrestricted).Check(job); // the job grain checked it too; a shard trusts no caller
        var model = await host.GetModelAsync(job.Model.Uri, ct);
        var dataset = await Dataset.OpenAsync(job, locator, ct, _limits.MaxSampleBytes, policy);
        var data = await dataset.ReadAsync(shard, ct);
        var outside = background?.Where(i => i < shard.Start || i >= shard.Start + shard.Count).ToArray() ?? [];
        if (outside.Length > 0)
            data = data with
            {
                Outside = dataset.Version is { } version
                    ? await _background.GetAsync((job.SourceJson, job.Output, version, string.Join(',', background!)), () => dataset.ReadRowsAsync(background!, CancellationToken.None), ct)
                    : await dataset.ReadRowsAsync(outside, ct),
            };
        // Segmentation needs no tensors: it runs on the thread pool, before the shard reaches the model host.
        if (segments && JobPlan.Of(job).Segments is { } spec)
            data = data with { Segments = await Task.Run(() => JobSegments.Compute(spec, job.Data.Preprocess, data), ct) };
        return (model, data);
    }

    /// <summary>Tensor work on one of the model host's threads, watched batch by batch (<see cref="WatchAsync"/>).</summary>
    private Task<T> OnHostAsync<T>(ExplainModel model, string silo, Func<BatchClock, T> compute)
    {
        var parent = System.Diagnostics.Activity.Current;
        var clock = new BatchClock();
        var work = host.RunAsync(() =>
        {
            System.Diagnostics.Activity.Current = parent;
            clock.Tick(); // the shard's set-up counts towards its first batch
            try { return compute(clock); }
            finally { clock.Stop(); }
        });
        return WatchAsync(work, clock, model.Location, silo);
    }

    /// <summary>
    /// The result of <paramref name="work"/>, unless one of its batches runs longer than the limit first: then the
    /// host gives the stuck thread up and starts another, the shard fails with one line (no retry: it would hang
    /// again), and whatever the work returns later is discarded.
    /// </summary>
    private async Task<T> WatchAsync<T>(Task<T> work, BatchClock clock, string model, string silo)
    {
        using var done = new CancellationTokenSource();
        // On the thread pool's timers: neither a model host thread nor the Orleans scheduler waits for it.
        var watchdog = Task.Run(async () =>
        {
            while (clock.Check(_limits.BatchTimeout, stuck => host.Abandon(stuck)) is { } wait) await Task.Delay(wait, done.Token);
        }, done.Token);
        if (await Task.WhenAny(work, watchdog) == work)
        {
            await done.CancelAsync();
            return await work;
        }
        await watchdog; // a fault of the watchdog itself is not a timeout
        ExplainMetrics.BatchTimeouts.Add(1, new KeyValuePair<string, object?>("silo", silo));
        _ = work.ContinueWith(static t => t.Exception, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously);
        throw _limits.BatchTimedOut(model);
    }
}
