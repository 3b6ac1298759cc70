using System.Text.Json;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Storage;
using Parquet;
using Parquet.Schema;

namespace ExplainCluster.Engine.History;

/// <summary>One completed run in a history's catalogue: where its outputs are, what it ran on, and its headline results.</summary>
public sealed record RunRow(
    string JobId,
    string Name,
    string Output,
    DateTimeOffset Started,
    DateTimeOffset Finished,
    double Seconds,
    string Model,
    string? ModelSha256,
    string? InputsSha256,
    string? LabelsSha256,
    long Samples,
    double? Accuracy,
    Dictionary<string, string>? Faithfulness,
    Dictionary<string, string>? Sanity,
    string[]? Drift = null);

/// <summary>runs.json: the catalogue's schema name and its runs, oldest first.</summary>
public sealed record RunsFile(string Schema, RunRow[] Runs)
{
    public const string SchemaName = "explaincluster.runs/1";
}

/// <summary>
/// A job's <c>history</c>: a folder whose runs.json (and runs.parquet, the same rows for SQL) lists every completed run that
/// named it, one row each, oldest first. A run adds its row just before its manifest says completed; adding is repeatable
/// (a row with the same job id is replaced), and writers take turns through a lock object created atomically, so jobs
/// finishing at once on different silos, or on different clusters sharing the store, each add their row.
/// </summary>
public sealed class RunCatalogue(IBlob folder)
{
    public const string Json = "runs.json";
    public const string Parquet = "runs.parquet";
    public const string Lock = "runs.lock";

    /// <summary>A lock older than this is taken to belong to a writer that died holding it.</summary>
    public static readonly TimeSpan StaleLock = TimeSpan.FromMinutes(2);

    /// <summary>How long a writer waits for its turn before giving up with a one-line error.</summary>
    public static readonly TimeSpan Wait = TimeSpan.FromMinutes(3);

    /// <summary>How long a lock may stay unreadable before it is taken for one half-written by a writer that died.</summary>
    public static readonly TimeSpan UnreadableLock = TimeSpan.FromSeconds(10);

    /// <summary>The catalogue's rows, oldest first; none when the history has none yet.</summary>
    public async Task<RunRow[]> ReadAsync(CancellationToken ct = default)
    {
        var blob = folder.Child(Json);
        if (!await blob.ExistsAsync(ct)) return [];
        await using var stream = await blob.OpenReadAsync(ct);
        RunsFile? file;
        try { file = await JsonSerializer.DeserializeAsync<RunsFile>(stream, Manifest.Json, ct); }
        catch (JsonException e) { throw new ExplainException($"history: {blob.Location} is not a run catalogue ({e.Message.Split('\n')[0]})"); }
        if (file?.Schema != RunsFile.SchemaName) throw new ExplainException($"history: {blob.Location} is not a run catalogue of schema {RunsFile.SchemaName}");
        return file.Runs;
    }

    /// <summary>Adds <paramref name="row"/> (replacing a row of the same job), in turn with any other writer.</summary>
    public async Task AddAsync(RunRow row, CancellationToken ct = default)
    {
        await using (await TakeTurnAsync(row.JobId, ct))
        {
            var rows = (await ReadAsync(ct)).Where(r => r.JobId != row.JobId).Append(row)
                .OrderBy(r => r.Finished).ThenBy(r => r.JobId, StringComparer.Ordinal).ToArray();
            await folder.Child(Json).WriteAsync(JsonSerializer.SerializeToUtf8Bytes(new RunsFile(RunsFile.SchemaName, rows), Manifest.Json), ct);
            await folder.Child(Parquet).WriteAsync(await ParquetAsync(rows, ct), ct);
        }
    }

    private async Task<IAsyncDisposable> TakeTurnAsync(string jobId, CancellationToken ct)
    {
        var blob = folder.Child(Lock);
        var deadline = DateTimeOffset.UtcNow + Wait;
        DateTimeOffset? unreadableSince = null;
        while (true)
        {
            var now = DateTimeOffset.UtcNow;
            if (await blob.CreateAsync(JsonSerializer.SerializeToUtf8Bytes(new LockHolder(jobId, now), Manifest.Json), ct)) return new Turn(blob);
            var holder = await HolderAsync(blob, ct);
            // Unreadable: being written by a live writer (a reader may see it before it is whole), or gone, or half-written by
            // one that died; only the last stays so.
            if (holder is null) unreadableSince ??= now;
            else unreadableSince = null;
            if ((holder is not null && now - holder.Since > StaleLock) || now - unreadableSince > UnreadableLock) { await blob.DeleteTreeAsync(ct); continue; }
            if (now > deadline && holder is not null)
                throw new ExplainException($"history: {blob.Location} has been held by job {holder.JobId} since {holder.Since:u}; delete it if that job is gone");
            await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(200)), ct);
        }
    }

    /// <summary>Who holds the lock; null when it is unreadable (half-written by a writer that died) or gone.</summary>
    private static async Task<LockHolder?> HolderAsync(IBlob blob, CancellationToken ct)
    {
        try
        {
            await using var stream = await blob.OpenReadAsync(ct);
            return await JsonSerializer.DeserializeAsync<LockHolder>(stream, Manifest.Json, ct);
        }
        catch (Exception e) when (e is JsonException or FileNotFoundException or IOException) { return null; }
    }

    /// <summary>The rows as one parquet row group: one column per field, the verdicts as JSON objects.</summary>
    public static async Task<byte[]> ParquetAsync(IReadOnlyList<RunRow> rows, CancellationToken ct = default)
    {
        var text = new (string Name, Func<RunRow, string?> Value)[]
        {
            ("jobId", r => r.JobId), ("name", r => r.Name), ("output", r => r.Output),
            ("started", r => r.Started.UtcDateTime.ToString("O")), ("finished", r => r.Finished.UtcDateTime.ToString("O")),
            ("model", r => r.Model), ("modelSha256", r => r.ModelSha256), ("inputsSha256", r => r.InputsSha256), ("labelsSha256", r => r.LabelsSha256),
            ("faithfulness", r => r.Faithfulness is null ? null : JsonSerializer.Serialize(r.Faithfulness, Manifest.Json)),
            ("sanity", r => r.Sanity is null ? null : JsonSerializer.Serialize(r.Sanity, Manifest.Json)),
            ("drift", r => r.Drift is null ? null : string.Join("\n", r.Drift)),
        };
        var textFields = text.Select(c => new DataField<string>(c.Name, true)).ToArray();
        var seconds = new DataField<double>("seconds");
        var samples = new DataField<long>("samples");
        var accuracy = new DataField<double?>("accuracy");
        using var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema([.. textFields, seconds, samples, accuracy]), output, cancellationToken: ct))
        {
            using var group = writer.CreateRowGroup();
            for (var i = 0; i < text.Length; i++)
                await group.WriteAsync(textFields[i], rows.Select(text[i].Value).ToArray()!);
            await group.WriteAsync(seconds, new ReadOnlyMemory<double>([.. rows.Select(r => r.Seconds)]), cancellationToken: ct);
            await group.WriteAsync(samples, new ReadOnlyMemory<long>([.. rows.Select(r => r.Samples)]), cancellationToken: ct);
            await group.WriteAsync(accuracy, new ReadOnlyMemory<double?>([.. rows.Select(r => r.Accuracy)]), cancellationToken: ct);
        }
        return output.ToArray();
    }

    private sealed record LockHolder(string JobId, DateTimeOffset Since);

    private sealed class Turn(IBlob blob) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await blob.DeleteTreeAsync(CancellationToken.None);
    }
}
