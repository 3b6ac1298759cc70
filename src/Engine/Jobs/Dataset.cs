using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Data.Images;
using ExplainCluster.Engine.Data.Tables;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// A job's samples and labels, opened by header only: counts and shapes, no samples. The samples are one array file
/// (.npy or IDX) with an optional labels file, image files (<see cref="ImageSource"/>) or a table (<see cref="TableSource"/>);
/// each is read by ranges.
/// </summary>
public sealed class Dataset
{
    private readonly Func<long, int, CancellationToken, Task<(float[] Raw, long[]? Labels, TextColumn[]? Metadata)>> _read;
    private readonly string[]? _features;
    private ErrorTree.ErrorTreeInput? _errorTree;

    private Dataset(long count, int[] sampleShape, Func<long, int, CancellationToken, Task<(float[], long[]?, TextColumn[]?)>> read, string[]? features = null)
    {
        Count = count;
        SampleShape = sampleShape;
        _read = read;
        _features = features;
    }

    private Dataset(long count, int[] sampleShape, Func<long, int, CancellationToken, Task<float[]>> readInputs,
        Func<long, int, CancellationToken, Task<long[]?>> readLabels)
        : this(count, sampleShape, async (start, n, ct) => (await readInputs(start, n, ct), await readLabels(start, n, ct), null))
    {
    }

    /// <summary>The per-sample shape the model receives.</summary>
    public int[] SampleShape { get; }

    public long Count { get; }

    /// <summary>The metadata columns the job's cohorts are by (<see cref="Cohorts.CohortOptions.Columns"/>).</summary>
    private string[] CohortColumns { get; set; } = [];

    private DependenceSpec? _dependence;

    /// <param name="maxDecodedBytes">The most one image may hold decoded (<see cref="Limits.MaxSampleBytes"/>).</param>
    /// <param name="policy">Where image files may be (each listed file is checked when the policy restricts local paths).</param>
    public static async Task<Dataset> OpenAsync(JobSpec job, BlobLocator locator, CancellationToken ct = default, long? maxDecodedBytes = null,
        LocationPolicy? policy = null)
    {
        var dataset = await OpenSamplesAsync(job, locator, ct, maxDecodedBytes, policy);
        dataset.CohortColumns = Cohorts.CohortOptions.Columns(job);
        dataset._dependence = job.Dependence;
        dataset._errorTree = job.ErrorTree is { } tree && job.Data.Table is { } table ? new ErrorTree.ErrorTreeInput(tree, table) : null;
        return dataset;
    }

    private static async Task<Dataset> OpenSamplesAsync(JobSpec job, BlobLocator locator, CancellationToken ct, long? maxDecodedBytes, LocationPolicy? policy)
    {
        if (job.Data.Table is not null)
        {
            var table = await TableSource.OpenAsync(job, locator, ct);
            return new Dataset(table.Count, [table.Encoder.Width], async (start, count, token) =>
                await table.ReadAsync(start, count, token) is var rows
                    ? (rows.Vectors, rows.Labels, [.. job.Data.Table.Metadata.Select((name, m) => new TextColumn(name, rows.Metadata[m]))]) : default,
                [.. job.Data.Table.Features.Select(f => f.Name)]);
        }
        if (job.Data.Images is { } images)
        {
            var list = await ImageList.OpenAsync(job, locator, ct);
            policy?.CheckImages(images.Manifest ? "data.manifest" : "data.images", list.Locations);
            var source = await ImageSource.OpenAsync(list, ImagePipeline.Parse(images.Transforms), locator, maxDecodedBytes ?? new Limits().MaxSampleBytes, ct);
            return new Dataset(source.Count, [source.Shape.Channels, source.Shape.Height, source.Shape.Width], async (start, count, token) =>
                (await source.ReadAsync(start, count, token), list.Labels?[(int)start..(int)(start + count)], list.MetadataOf(start, count)));
        }
        var inputs = await ArrayFile.OpenAsync(locator.Resolve(job.Data.Inputs), ct);
        if (inputs.Header.Type is not (ElementType.UInt8 or ElementType.Float32))
            throw new ExplainException($"{job.Data.Inputs}: inputs must be uint8 or float32, not {inputs.Header.Type}");
        ArrayFile? labels = null;
        if (job.Data.Labels is { } labelLocation)
        {
            labels = await ArrayFile.OpenAsync(locator.Resolve(labelLocation), ct);
            if (labels.Header.Type == ElementType.Float32)
                throw new ExplainException($"{labelLocation}: labels must be integers, not float32");
            if (labels.Header.Shape.Length != 1)
                throw new ExplainException($"{labelLocation}: labels must be one-dimensional [N], not [{string.Join(", ", labels.Header.Shape)}]");
            if (labels.Header.Count != inputs.Header.Count)
                throw new ExplainException($"label count {labels.Header.Count} differs from input count {inputs.Header.Count}");
        }
        return new Dataset(inputs.Header.Count, SampleShapeOf(job, inputs.Header), inputs.ReadFloatsAsync,
            async (start, count, token) => labels is null ? null : await labels.ReadIntegersAsync(start, count, token));
    }

    public async Task<ShardData> ReadAsync(ShardSpec shard, CancellationToken ct = default)
    {
        var count = checked((int)shard.Count);
        if (shard.Start + count > Count)
            throw new ExplainException($"data: shard {shard.Index} reads samples {shard.Start}–{shard.Start + count - 1}, but the dataset now has {Count}; inputs must not change while a job runs");
        var (raw, labels, metadata) = await _read(shard.Start, count, ct);
        return new ShardData(shard.Start, count, raw, labels, SampleShape, Features: _features, Metadata: metadata, Cohorts: metadata is null ? null : CohortColumns,
            Dependence: _dependence, ErrorTree: _errorTree);
    }

    /// <summary>
    /// The rows at <paramref name="indices"/> (ascending, distinct), read a span at a time: indices less than
    /// <paramref name="gap"/> rows apart share one ranged read.
    /// </summary>
    public async Task<RowSet> ReadRowsAsync(long[] indices, CancellationToken ct = default, int gap = 256)
    {
        var size = SampleShape.Aggregate(1, (a, b) => a * b);
        var raw = new float[(long)indices.Length * size];
        for (var at = 0; at < indices.Length;)
        {
            var next = at + 1;
            while (next < indices.Length && indices[next] - indices[next - 1] < gap) next++;
            var (first, last) = (indices[at], indices[next - 1]);
            if (first < 0 || last >= Count)
                throw new ExplainException($"data: rows up to {last} were chosen, but the dataset now has {Count}; inputs must not change while a job runs");
            var (rows, _, _) = await _read(first, checked((int)(last - first + 1)), ct);
            for (var r = at; r < next; r++) rows.AsSpan((int)(indices[r] - first) * size, size).CopyTo(raw.AsSpan(r * size, size));
            at = next;
        }
        return new RowSet(indices, raw);
    }

    /// <summary>Shards of at most <c>job.ShardSize</c> consecutive samples.</summary>
    public static ShardSpec[] Plan(long count, int shardSize)
    {
        var shards = new List<ShardSpec>();
        for (long start = 0; start < count; start += shardSize)
            shards.Add(new ShardSpec(shards.Count, start, Math.Min(shardSize, count - start)));
        return [.. shards];
    }

    private static int[] SampleShapeOf(JobSpec job, ArrayHeader header)
    {
        var item = header.ItemShape.Select(d => (int)d).ToArray();
        if (job.Data.Preprocess.Shape is { } shape)
        {
            if (shape.Aggregate(1L, (a, b) => a * b) != header.ItemElements)
                throw new ExplainException(
                    $"data.preprocess.shape [{string.Join(", ", shape)}] does not fit samples of shape [{string.Join(", ", item)}]");
            return shape;
        }
        // [N, H, W] inputs feed single-channel models as [N, 1, H, W].
        return item.Length == 2 ? [1, .. item] : item;
    }
}
