using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// The examples of a job's concept sets and of its random set, read whole through the job's own input path: a .npy array as
/// the data's raw values, a folder of images with the job's transforms (<see cref="Dataset"/>), each checked to have the
/// data's sample shape and enough examples. I/O only (no tensors): read before the training goes to the model host.
/// </summary>
/// <param name="Concepts">Each concept's examples, in <see cref="ConceptsSpec.Sets"/>' order.</param>
public sealed record ConceptSets(ShardData[] Concepts, ShardData Random)
{
    public static async Task<ConceptSets> ReadAsync(JobSpec job, BlobLocator locator, CancellationToken ct = default, long? maxDecodedBytes = null,
        LocationPolicy? policy = null)
    {
        var spec = job.Concepts ?? throw new InvalidOperationException("the job has no concepts");
        var shape = (await Dataset.OpenAsync(job, locator, ct, maxDecodedBytes, policy)).SampleShape;
        var concepts = new ShardData[spec.Sets.Length];
        for (var c = 0; c < concepts.Length; c++)
            concepts[c] = await ReadSetAsync(job, spec.Sets[c].Location, $"concepts.sets.{spec.Sets[c].Name}", shape, ConceptsSpec.MinExamples, locator, ct, maxDecodedBytes, policy);
        var random = await ReadSetAsync(job, spec.Random, "concepts.random", shape, 2 * ConceptsSpec.MinExamples, locator, ct, maxDecodedBytes, policy);
        return new ConceptSets(concepts, random);
    }

    /// <summary>Each set as the summary records it: its name, examples and the SHA-256 of their values as the model's input took them, concepts then random.</summary>
    public ConceptSetRecord[] Records(ConceptsSpec spec) =>
        [.. Concepts.Select((c, i) => Record(spec.Sets[i].Name, c)), Record("random", Random)];

    private static ConceptSetRecord Record(string name, ShardData set) =>
        new(name, set.Count, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(set.Raw.AsSpan()))));

    /// <summary>Examples per side of each CAV: the job's <c>examples</c>, else the smallest concept set, at most half the random examples.</summary>
    public int Examples(ConceptsSpec spec)
    {
        var most = Math.Min(Concepts.Min(c => c.Count), Random.Count / 2);
        if (spec.Examples == 0) return most;
        if (spec.Examples <= most) return spec.Examples;
        var smallest = Enumerable.Range(0, Concepts.Length).MinBy(c => Concepts[c].Count);
        throw new ExplainException(Concepts[smallest].Count < spec.Examples
            ? $"concepts.examples: {spec.Examples}, but concepts.sets.{spec.Sets[smallest].Name} has {Concepts[smallest].Count} examples"
            : $"concepts.examples: {spec.Examples}, but concepts.random has {Random.Count} examples, fewer than two disjoint draws of {spec.Examples}");
    }

    private static async Task<ShardData> ReadSetAsync(JobSpec job, string location, string path, int[] shape, int fewest, BlobLocator locator,
        CancellationToken ct, long? maxDecodedBytes, LocationPolicy? policy)
    {
        var array = ConceptsOptions.IsArray(location);
        if (array && !await locator.Resolve(location).ExistsAsync(ct))
            throw new ExplainException($"{path}: {Shown(location)} does not exist");
        if (!array && !BlobLocator.IsRemote(location) && !Directory.Exists(location))
            throw new ExplainException($"{path}: {Shown(location)} is not a folder of images");
        // The set as a dataset of its own: the job's preprocessing (and transforms), no labels.
        var data = array ? new DataSpec(location, null, job.Data.Preprocess)
            : new DataSpec(location, null, job.Data.Preprocess, job.Data.Images! with { Manifest = false, PathColumn = null, LabelColumn = null, LabelsFromFolders = false });
        Dataset set;
        try { set = await Dataset.OpenAsync(job with { Data = data }, locator, ct, maxDecodedBytes, policy); }
        catch (ExplainException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new ExplainException($"{path}: {Unprefixed(e.Message)}", e);
        }
        if (!set.SampleShape.SequenceEqual(shape))
            throw new ExplainException($"{path}: examples of shape [{string.Join(", ", set.SampleShape)}], but the data's samples are [{string.Join(", ", shape)}]");
        if (set.Count < fewest)
            throw new ExplainException($"{path}: {set.Count} examples; at least {fewest} are needed");
        if (set.Count > int.MaxValue / 2) throw new ExplainException($"{path}: {set.Count} examples is more than a concept set can hold");
        return await set.ReadAsync(new ShardSpec(0, 0, set.Count), ct);
    }

    /// <summary>A location as an error shows it: a local path by its file name, as the report does (<see cref="Redaction"/> for URLs).</summary>
    private static string Shown(string location) => BlobLocator.IsRemote(location) ? Redaction.Location(location) : Path.GetFileName(location.TrimEnd('/', '\\'));

    /// <summary>The data reader's message without its own field name ("data.images: …").</summary>
    private static string Unprefixed(string message) => message.StartsWith("data.", StringComparison.Ordinal) && message.IndexOf(": ", StringComparison.Ordinal) is > 0 and var at
        ? message[(at + 2)..] : message;
}

/// <summary>
/// A concept set (or the random one) as summary.json records it: its examples, and the SHA-256 of their raw values in order
/// (float32, little-endian: the array's values, or the images after the job's transforms, before toTensor and normalize), so a
/// reader can tell whether a later run used the same examples.
/// </summary>
public sealed record ConceptSetRecord(string Name, int Examples, string Sha256);
