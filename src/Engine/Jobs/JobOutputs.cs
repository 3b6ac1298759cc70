using System.Security.Cryptography;
using System.Text.Json;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Report;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>The job-level files: manifest.json (first as running, last as completed or failed), summary.json, the report.</summary>
public sealed class JobOutputs(BlobLocator locator)
{
    public Manifest NewManifest(string jobId, JobSpec job, Dataset dataset, ShardSpec[] shards) => new(
        job.Name, jobId, Manifest.Running, null,
        job.Model.Uri, null, job.Data.Inputs, null, job.Data.Labels, null,
        dataset.Count, dataset.SampleShape, job.Model.Classes?.Length ?? 0,
        [.. job.Methods.Select(m => m.Name)], job.Target == TargetMode.Label ? "label" : "predicted", job.ShardSize,
        [.. shards.Select(s => new ManifestShard(s.Index, s.Start, s.Count, null, null))],
        Manifest.SoftwareVersions(), DateTimeOffset.UtcNow, null, null,
        JsonDocument.Parse(job.SourceJson).RootElement.Clone());

    public async Task WriteManifestAsync(JobSpec job, Manifest manifest, CancellationToken ct = default)
    {
        try
        {
            await locator.Resolve(job.Output).Child(OutputLayout.Manifest).WriteAsync(manifest.ToJson(), ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Azure.RequestFailedException)
        {
            throw new ExplainException($"output location {job.Output} cannot be written: {e.Message.Split('\n')[0]}", e);
        }
    }

    /// <summary>SHA-256 of the model, the inputs and the labels (streamed; started while the shards run).</summary>
    public async Task<InputHashes> HashAsync(JobSpec job, CancellationToken ct = default) => new(
        await Sha256Async(job.Model.Uri, ct),
        await Sha256Async(job.Data.Inputs, ct),
        job.Data.Labels is null ? null : await Sha256Async(job.Data.Labels, ct));

    /// <summary>Writes summary.json and the report, then marks the manifest completed.</summary>
    /// <param name="shards">Where each shard ran and its tensor time in seconds, by shard index.</param>
    public async Task<Manifest> CompleteAsync(
        JobSpec job, Manifest manifest, Summary summary, IReadOnlyDictionary<int, ShardRun> shards, InputHashes hashes, CancellationToken ct = default)
    {
        var output = locator.Resolve(job.Output);
        await output.Child(OutputLayout.Summary).WriteAsync(JsonSerializer.SerializeToUtf8Bytes(summary, Manifest.Json), ct);
        var finished = DateTimeOffset.UtcNow;
        var done = manifest with
        {
            Status = Manifest.Completed,
            Classes = summary.Classes.Length,
            ModelSha256 = hashes.Model,
            InputsSha256 = hashes.Inputs,
            LabelsSha256 = hashes.Labels,
            Shards = [.. manifest.Shards.Select(s => s with { Silo = shards[s.Index].Silo, Seconds = shards[s.Index].Seconds })],
            Finished = finished,
            Seconds = (finished - manifest.Started).TotalSeconds,
        };
        // The report reads the manifest, so write it (still running) first; completed goes last.
        await WriteManifestAsync(job, done with { Status = Manifest.Running }, ct);
        await new ReportWriter(locator).WriteAsync(job.Output, ct);
        await WriteManifestAsync(job, done, ct);
        return done;
    }

    public Task FailAsync(JobSpec job, Manifest manifest, string error, CancellationToken ct = default)
    {
        var finished = DateTimeOffset.UtcNow;
        return WriteManifestAsync(job, manifest with
        {
            Status = Manifest.Failed, Error = error, Finished = finished, Seconds = (finished - manifest.Started).TotalSeconds,
        }, ct);
    }

    private async Task<string> Sha256Async(string location, CancellationToken ct)
    {
        await using var stream = await locator.Resolve(location).OpenReadAsync(ct);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, ct));
    }
}

public sealed record InputHashes(string Model, string Inputs, string? Labels);

/// <summary>One finished shard as the manifest records it.</summary>
public sealed record ShardRun(long Count, string Silo, double Seconds);
