using System.Security.Cryptography;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Compare;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.History;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Verdicts;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>The job-level files: manifest.json (first as running, last as completed or failed), summary.json, the report.</summary>
public sealed class JobOutputs(BlobLocator locator)
{
    public Manifest NewManifest(string jobId, JobSpec job, Dataset dataset, ShardSpec[] shards) => new(
        job.Name, jobId, Manifest.Running, null,
        Redaction.Location(job.Model.Uri), null, Redaction.Location(job.Data.Inputs), null,
        job.Data.Labels is null ? null : Redaction.Location(job.Data.Labels), null,
        dataset.Count, dataset.SampleShape, job.Model.Classes?.Length ?? 0,
        [.. job.Methods.Select(m => m.Name)], job.Target == TargetMode.Label ? "label" : "predicted", job.ShardSize,
        [.. shards.Select(s => new ManifestShard(s.Index, s.Start, s.Count, null, null, null, null))],
        Manifest.SoftwareVersions(), DateTimeOffset.UtcNow, null, null,
        Redaction.Json(job.SourceJson),
        Seeds: JobSeeds.Of(job),
        Maps: job.Maps ?? MapsSpec.Default,
        // The job's start runs in its trace when the cluster is traced (OpenTelemetry): the id that finds its spans.
        TraceId: System.Diagnostics.Activity.Current?.TraceId.ToHexString());

    public async Task WriteManifestAsync(JobSpec job, Manifest manifest, CancellationToken ct = default)
    {
        try
        {
            await locator.Resolve(job.Output).Child(OutputLayout.Manifest).WriteAsync(manifest.ToJson(), ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Azure.RequestFailedException)
        {
            throw Unwritable(job, e);
        }
    }

    /// <summary>The one line for an output that refused the manifest: the cause in words where it will not heal.</summary>
    private static ExplainException Unwritable(JobSpec job, Exception e) => StorageFault.Cause(e) is { } cause
        ? new ExplainException($"output {job.Output}: {cause} (writing {OutputLayout.Manifest})", e)
        : new ExplainException($"output location {job.Output} cannot be written: {e.Message.Split('\n')[0]}", e);

    /// <summary>
    /// Writes the first manifest, making the output this job's: one job per output at a time. A new output is
    /// claimed atomically (of two jobs given it at once, one gets it). An output holding a running job is
    /// refused; one holding a completed job is refused unless the job says <c>"overwrite": true</c>; a failed
    /// or cancelled job's output is taken over. Taking over deletes the earlier job's files first.
    /// </summary>
    /// <param name="stillRunning">Whether the cluster still runs a job, by id: a manifest left "running" by a job
    /// the cluster no longer knows (an embedded run that was killed) does not hold its output.</param>
    public async Task ClaimAsync(JobSpec job, Manifest manifest, Func<string, Task<bool>> stillRunning, CancellationToken ct = default)
    {
        var output = locator.Resolve(job.Output);
        var blob = output.Child(OutputLayout.Manifest);
        try
        {
            if (await blob.CreateAsync(manifest.ToJson(), ct)) return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Azure.RequestFailedException)
        {
            throw Unwritable(job, e);
        }
        var earlier = await ReadClaimedManifestAsync(job, ct);
        if (earlier.JobId == manifest.JobId) return;
        if (earlier.Status == Manifest.Running && await stillRunning(earlier.JobId))
            throw new ExplainException($"output: {job.Output} is in use by job {earlier.JobId}, still running; give this job another output");
        if (earlier.Status == Manifest.Completed && !job.Overwrite)
            throw new ExplainException($"output: {job.Output} holds the completed job {earlier.JobId}; set \"overwrite\": true in the job file to replace it");
        foreach (var folder in OutputLayout.Folders) await output.Child(folder).DeleteTreeAsync(ct);
        await WriteManifestAsync(job, manifest, ct);
    }

    /// <summary>Another job's manifest, read again for up to a second while its writer may still be writing it.</summary>
    private async Task<Manifest> ReadClaimedManifestAsync(JobSpec job, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try { return await ReadManifestAsync(job, ct); }
            catch (Exception e) when (e is JsonException or ExplainException && attempt < 10) { await Task.Delay(100, ct); }
            catch (JsonException) { throw new ExplainException($"output: {job.Output} holds a manifest.json that is not ExplainCluster's; give the job another output"); }
        }
    }

    /// <summary>The manifest written when the job started, for a job that carries on after its grain moved.</summary>
    public async Task<Manifest> ReadManifestAsync(JobSpec job, CancellationToken ct = default)
    {
        await using var stream = await locator.Resolve(job.Output).Child(OutputLayout.Manifest).OpenReadAsync(ct);
        return await JsonSerializer.DeserializeAsync<Manifest>(stream, Manifest.Json, ct)
            ?? throw new ExplainException($"{job.Output}/{OutputLayout.Manifest} is empty");
    }

    /// <summary>The partial statistics an accepted attempt staged.</summary>
    public async Task<ShardPartial> ReadPartialAsync(JobSpec job, int shard, int attempt, CancellationToken ct = default)
    {
        var blob = locator.Resolve(job.Output).Child(OutputLayout.Partial(shard, attempt));
        await using var stream = await blob.OpenReadAsync(ct);
        // Decoded straight from the store into the partial's arrays, on a pool thread: its reads block.
        return await Task.Run(() => PartialCodec.Decode(new BufferedStream(stream, 1 << 20), blob.Location), ct);
    }

    /// <summary>
    /// The partial statistics an attempt staged, if it staged them whole (its partial.bin is written last, so the attempt's
    /// files are all there); null when it has none or one cut short.
    /// </summary>
    public async Task<ShardPartial?> StagedPartialAsync(JobSpec job, int shard, int attempt, CancellationToken ct = default)
    {
        try
        {
            if (!await locator.Resolve(job.Output).Child(OutputLayout.Partial(shard, attempt)).ExistsAsync(ct)) return null;
            return await ReadPartialAsync(job, shard, attempt, ct);
        }
        catch (Exception e) when (e is ExplainException or IOException or Azure.RequestFailedException) { return null; }
    }

    /// <summary>
    /// SHA-256 of the model, the inputs (image files: each one's name and bytes, in dataset order; a table's parts: each
    /// one's name and bytes, in order) and the labels
    /// (streamed; started while the shards run), and the model's
    /// architecture (<see cref="ArchitectureReader"/>; a remote model is read from a temporary copy).
    /// </summary>
    public async Task<InputHashes> HashAsync(JobSpec job, CancellationToken ct = default) => new(
        await Sha256Async(job.Model.Uri, ct),
        job.Data.Images is not null ? await (await Data.Images.ImageList.OpenAsync(job, locator, ct)).Sha256Async(job, locator, ct)
            : job.Data.Table is not null ? await Data.Tables.TableParts.Sha256Async(job.Data.Inputs, locator, ct)
            : await Sha256Async(job.Data.Inputs, ct),
        job.Data.Labels is null ? null : await Sha256Async(job.Data.Labels, ct),
        await ArchitectureAsync(job, ct));

    private async Task<ModelArchitecture> ArchitectureAsync(JobSpec job, CancellationToken ct)
    {
        var shown = Redaction.Location(job.Model.Uri);
        if (locator.Resolve(job.Model.Uri) is LocalBlob local) return await Task.Run(() => ArchitectureReader.Read(local.Location, shown), ct);
        var copy = Path.Combine(Path.GetTempPath(), $"explaincluster-model-{Guid.NewGuid():N}.pt");
        try
        {
            await using (var source = await locator.Resolve(job.Model.Uri).OpenReadAsync(ct))
            await using (var file = File.Create(copy))
                await source.CopyToAsync(file, ct);
            return await Task.Run(() => ArchitectureReader.Read(copy, shown), ct);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    /// <summary>
    /// Moves each shard's accepted attempt into place (<see cref="PlaceAsync"/>), compares the run with its baseline, writes
    /// the report, then marks the manifest completed and deletes the staging. Repeatable: a job that stopped half-way through
    /// this carries on where it was (files already moved are not staged any more).
    /// </summary>
    /// <param name="shards">The accepted attempt of each shard, where it ran and its tensor time, by shard index.</param>
    /// <param name="posted">The accepted post-pass attempt of each shard, by shard index, when the job had a post pass: its
    /// embedding part moves into place, and its per-sample columns are joined to the explain attempt's samples part.</param>
    /// <param name="compared">The job's compare pass's parts folded, when it had one; else a comparison the job asks for is made here.</param>
    public async Task<Manifest> CompleteAsync(
        JobSpec job, Manifest manifest, SummaryOutput summary, IReadOnlyDictionary<int, ShardRun> shards, InputHashes hashes,
        IReadOnlyDictionary<int, int>? posted = null, ComparePart? compared = null, CancellationToken ct = default) =>
        await FinishAsync(job, await PlaceAsync(job, manifest, summary, shards, hashes, posted, ct), summary, compared, ct);

    /// <summary>
    /// The first half of <see cref="CompleteAsync"/>: each shard's accepted attempt moved into place, summary.json and its
    /// arrays written, and the manifest as it will be completed written still running, so the run reads as a finishing run
    /// (<see cref="RunOutputs.OpenAsync"/>) for the compare pass. Repeatable. Returns the manifest to complete.
    /// </summary>
    public async Task<Manifest> PlaceAsync(
        JobSpec job, Manifest manifest, SummaryOutput summary, IReadOnlyDictionary<int, ShardRun> shards, InputHashes hashes,
        IReadOnlyDictionary<int, int>? posted = null, CancellationToken ct = default)
    {
        var output = locator.Resolve(job.Output);
        // Each method's maps, and the extra maps some write beside them under their own names (param-grads-projected).
        var plan = JobPlan.Of(job);
        // "maps": {"store": "none"} writes no map files; "subset", an index file beside every method's part.
        var store = (job.Maps ?? MapsSpec.Default).Store;
        var methods = store == MapStore.None ? [] : plan.Methods.SelectMany(c => c.Method.ExtraMaps.Prepend(c.Method.Name)).ToArray();
        var subsetMethods = store == MapStore.Subset ? methods
            : methods.Length == 0 ? [] : plan.Methods.Where(c => !c.Subset.IsAll).SelectMany(c => c.Method.ExtraMaps.Prepend(c.Method.Name)).ToArray();
        var embedding = plan.Embedding is not null;
        await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (shard, token) =>
        {
            var staged = output.Child(OutputLayout.Attempt(shard.Key, shard.Value.Attempt));
            // The embedding's post attempt staged the shard's coordinates and their per-sample columns apart.
            var post = !embedding ? null : posted?.TryGetValue(shard.Key, out var attempt) == true ? output.Child(OutputLayout.PostAttempt(shard.Key, attempt))
                : throw new ExplainException($"shard {shard.Key} has no post attempt for its embedding");
            foreach (var file in OutputLayout.ShardFiles(methods, shard.Key, plan.Segments is not null, subsetMethods, plan.Features is null ? null : plan.Methods.Select(m => m.Name),
                job.Data.Images?.OnBadSample == BadSamplePolicy.Skip))
            {
                if (post is not null && file == OutputLayout.SamplesPart(shard.Key)) await JoinAsync(staged.Child(file), post.Child(OutputLayout.SampleColumns), output.Child(file), token);
                else await MoveAsync(staged, file, output, $"shard {shard.Key} attempt {shard.Value.Attempt}", token);
            }
            if (post is not null) await MoveAsync(post, OutputLayout.EmbeddingPart(shard.Key), output, $"shard {shard.Key} post attempt {posted![shard.Key]}", token);
        });
        foreach (var array in summary.Arrays) await output.Child(array.Path).WriteAsync(Npy(array), ct);
        await output.Child(OutputLayout.Summary).WriteAsync(JsonSerializer.SerializeToUtf8Bytes(summary.Summary, Manifest.Json), ct);
        var finished = DateTimeOffset.UtcNow;
        var done = manifest with
        {
            Status = Manifest.Completed,
            Classes = summary.Summary.Classes.Length,
            ModelSha256 = hashes.Model,
            InputsSha256 = hashes.Inputs,
            LabelsSha256 = hashes.Labels,
            Shards = [.. manifest.Shards.Select(s => s with
            {
                Silo = shards[s.Index].Silo, Seconds = shards[s.Index].Seconds, Attempt = shards[s.Index].Attempt, Attempts = shards[s.Index].Attempts,
            })],
            Finished = finished,
            Seconds = (finished - manifest.Started).TotalSeconds,
            ParamGradLayers = summary.Summary.ParamGrads?.Layers.Select(l => new ParamGradLayer(l.Name, l.Parameters, l.Vectorised, l.How)).ToArray(),
            Architecture = hashes.Architecture,
            Silos = [.. manifest.Shards.Select(s => shards[s.Index].Silo).Distinct(StringComparer.Ordinal)],
        };
        // The report reads the manifest, so write it (still running) first; completed goes last.
        await WriteManifestAsync(job, done with { Status = Manifest.Running }, ct);
        return done;
    }

    /// <summary>The second half of <see cref="CompleteAsync"/>, once the files are in place (<see cref="PlaceAsync"/> returned <paramref name="done"/>).</summary>
    public async Task<Manifest> FinishAsync(JobSpec job, Manifest done, SummaryOutput summary, ComparePart? compared, CancellationToken ct = default)
    {
        var output = locator.Resolve(job.Output);
        // Compared before the report is made, so the report says what changed.
        if (job.Compare is { } compare && await BaselineAsync(job, compare, done.JobId, ct) is { } baseline)
        {
            var comparison = await new Comparer(locator).WriteAsync(output.Child(ComparisonOutput.JobFolder), baseline, job.Output, compare.Fail, candidateFinishing: true, compared, ct);
            done = done with { Drift = comparison.Drift };
        }
        await new ReportWriter(locator).WriteAsync(job.Output, ct, job.Data.Inputs, job.Data.Images is null ? null : await ImageSamplesAsync(job, ct));
        // The history's row goes in before completed: a job that stops between the two adds it again (replacing it).
        if (job.History is { } history) await new RunCatalogue(locator.Resolve(history)).AddAsync(Row(job, done, summary.Summary), ct);
        await WriteManifestAsync(job, done, ct);
        // The staged partials go last, so a job that stops before this point can still rebuild its summary;
        // the attempts' own files were all moved above.
        await output.Child(OutputLayout.Attempts).DeleteTreeAsync(ct);
        return done;
    }

    /// <summary>
    /// The run a job compares itself with: its <c>compare.baseline</c>, or for <c>previous</c> the latest other run of its history;
    /// null when the history has none yet (the first run has nothing to compare with).
    /// </summary>
    public async Task<string?> BaselineAsync(JobSpec job, CompareSpec compare, string jobId, CancellationToken ct = default)
    {
        if (compare.Baseline != CompareSpec.Previous) return compare.Baseline;
        var rows = await new RunCatalogue(locator.Resolve(job.History!)).ReadAsync(ct);
        return rows.LastOrDefault(r => r.JobId != jobId)?.Output;
    }

    /// <summary>The completed run as its history's catalogue lists it.</summary>
    public static RunRow Row(JobSpec job, Manifest done, Summary summary) => new(
        done.JobId, done.Job, Redaction.Location(job.Output), done.Started, done.Finished ?? done.Started, done.Seconds ?? 0,
        done.Model, done.ModelSha256, done.InputsSha256, done.LabelsSha256, done.Samples,
        summary.ErrorAnalysis?.Accuracy,
        summary.Verdicts?.Methods.ToDictionary(m => m.Key, m => m.Value.Faithfulness),
        summary.Verdicts?.Methods.Where(m => m.Value.Sanity is not null).ToDictionary(m => m.Key, m => m.Value.Sanity!) is { Count: > 0 } sanity ? sanity : null,
        done.Drift is { Length: > 0 } drift ? drift : null);

    private static async Task MoveAsync(IBlob staged, string file, IBlob output, string attempt, CancellationToken ct)
    {
        if (!await staged.Child(file).MoveToAsync(output.Child(file), ct) && !await output.Child(file).ExistsAsync(ct))
            throw new ExplainException($"{attempt} left no {file}");
    }

    /// <summary>
    /// The shard's samples part, written once: the explain attempt's part with the post attempt's columns joined
    /// (<see cref="ParquetColumns.WithAsync"/>); then the staged part goes, so a job that carries on finds it done.
    /// </summary>
    private static async Task JoinAsync(IBlob part, IBlob columns, IBlob target, CancellationToken ct)
    {
        if (!await part.ExistsAsync(ct))
        {
            if (await target.ExistsAsync(ct)) return;
            throw new ExplainException($"{part.Location} is missing");
        }
        var joined = await ParquetColumns.WithAsync(await ReadAllAsync(part, ct), await ParquetColumns.ReadAsync(await ReadAllAsync(columns, ct), ct), ct);
        await target.WriteAsync(joined, ct);
        await part.DeleteTreeAsync(ct);
    }

    private static async Task<byte[]> ReadAllAsync(IBlob blob, CancellationToken ct)
    {
        await using var stream = await blob.OpenReadAsync(ct);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, ct);
        return buffer.ToArray();
    }

    /// <summary>
    /// Deletes the staged attempts, then marks the manifest failed (with <paramref name="error"/>) or cancelled (error null).
    /// Staging goes first: on a full disk, that is what makes room for the manifest.
    /// </summary>
    public async Task EndAsync(JobSpec job, Manifest manifest, string? error, CancellationToken ct = default)
    {
        try { await locator.Resolve(job.Output).Child(OutputLayout.Attempts).DeleteTreeAsync(ct); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Azure.RequestFailedException) { /* staging only; the manifest says what happened */ }
        var finished = DateTimeOffset.UtcNow;
        await WriteManifestAsync(job, manifest with
        {
            Status = error is null ? Manifest.Cancelled : Manifest.Failed, Error = error, Finished = finished, Seconds = (finished - manifest.Started).TotalSeconds,
        }, ct);
    }

    private static byte[] Npy(SummaryArray array) => array.Values switch
    {
        float[] f => NpyFormat.Encode(f, array.Shape),
        long[] l => NpyFormat.Encode(l, array.Shape),
        _ => throw new ArgumentException($"{array.Path}: no .npy encoding for {array.Values.GetType().Name}", nameof(array)),
    };

    /// <summary>The report's reader of an image dataset's samples: each decoded and transformed as its shard read it.</summary>
    private async Task<ReportContext.SampleReader> ImageSamplesAsync(JobSpec job, CancellationToken ct)
    {
        var dataset = await Dataset.OpenAsync(job, locator, ct);
        return async (index, token) => (await dataset.ReadAsync(new ShardSpec(0, index, 1), token)).Raw;
    }

    private async Task<string> Sha256Async(string location, CancellationToken ct)
    {
        await using var stream = await locator.Resolve(location).OpenReadAsync(ct);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }

    /// <summary>SHA-256 of one input (<paramref name="what"/> names it in the error when it cannot be read).</summary>
    public async Task<string> Sha256Async(string location, string what, CancellationToken ct = default)
    {
        if (!await locator.Resolve(location).ExistsAsync(ct)) throw new ExplainException($"{what} {location} does not exist");
        return await Sha256Async(location, ct);
    }
}

/// <summary>What the job reads of its inputs besides the shards: their hashes, and the model's architecture (null: not read).</summary>
public sealed record InputHashes(string Model, string Inputs, string? Labels, ModelArchitecture? Architecture = null);

/// <summary>One finished shard as the manifest records it: the attempt accepted, and how many were started.</summary>
public sealed record ShardRun(long Count, string Silo, double Seconds, int Attempt, int Attempts);
