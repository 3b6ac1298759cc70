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
    private readonly Func<long, int, CancellationToken, Task<Rows>> _read;
    private readonly string[]? _features;
    private ErrorTree.ErrorTreeInput? _errorTree;

    private Dataset(long count, int[] sampleShape, Func<long, int, CancellationToken, Task<Rows>> read, string[]? features = null)
    {
        Count = count;
        SampleShape = sampleShape;
        _read = read;
        _features = features;
    }

    private Dataset(long count, int[] sampleShape, Func<long, int, CancellationToken, Task<float[]>> readInputs,
        Func<long, int, CancellationToken, Task<long[]?>> readLabels)
        : this(count, sampleShape, async (start, n, ct) => new Rows(await readInputs(start, n, ct), await readLabels(start, n, ct), null))
    {
    }

    /// <summary>
    /// The table's files' versions when they were opened (<see cref="TableSource.Version"/>): what a silo keeps read from them is
    /// keyed by it. Null for images and arrays.
    /// </summary>
    public string? Version { get; private init; }

    /// <summary>The per-sample shape the model receives.</summary>
    public int[] SampleShape { get; }

    public long Count { get; }

    /// <summary>The metadata columns the job's cohorts are by (<see cref="Cohorts.CohortOptions.Columns"/>).</summary>
    private string[] CohortColumns { get; set; } = [];

    private DependenceSpec? _dependence;
    private Tabular.SpPickSpec? _spPick;

    /// <param name="maxDecodedBytes">The most one image may hold decoded (<see cref="Limits.MaxSampleBytes"/>).</param>
    /// <param name="policy">Where image files may be (each listed file is checked when the policy restricts local paths).</param>
    public static async Task<Dataset> OpenAsync(JobSpec job, BlobLocator locator, CancellationToken ct = default, long? maxDecodedBytes = null,
        LocationPolicy? policy = null)
    {
        var dataset = await OpenSamplesAsync(job, locator, ct, maxDecodedBytes, policy);
        dataset.CohortColumns = Cohorts.CohortOptions.Columns(job);
        dataset._dependence = job.Dependence;
        dataset._spPick = Tabular.SpPickSpec.Of(job);
        dataset._errorTree = job.ErrorTree is { } tree && job.Data.Table is { } table ? new ErrorTree.ErrorTreeInput(tree, table) : null;
        return dataset;
    }

    private static async Task<Dataset> OpenSamplesAsync(JobSpec job, BlobLocator locator, CancellationToken ct, long? maxDecodedBytes, LocationPolicy? policy)
    {
        if (job.Data.Table is not null)
        {
            var table = await TableSource.OpenAsync(job, locator, ct);
            policy?.CheckImages("data.table", table.Files); // a folder's parts may be links that lead elsewhere
            return new Dataset(table.Count, [table.Encoder.Width], async (start, count, token) =>
                await table.ReadAsync(start, count, token) is var rows
                    ? new Rows(rows.Vectors, rows.Labels, [.. job.Data.Table.Metadata.Select((name, m) => new TextColumn(name, rows.Metadata[m]))]) : null!,
                [.. job.Data.Table.Features.Select(f => f.Name)]) { Version = table.Version };
        }
        if (job.Data.Images is { } images)
        {
            var list = await ImageList.OpenAsync(job, locator, ct);
            policy?.CheckImages(images.Manifest ? "data.manifest" : images.Tar ? "data.tar" : "data.images", list.Sources);
            var skip = images.OnBadSample == BadSamplePolicy.Skip;
            var source = await ImageSource.OpenAsync(list, ImagePipeline.Parse(images.Transforms), locator, maxDecodedBytes ?? new Limits().MaxSampleBytes, ct, skip);
            return new Dataset(source.Count, [source.Shape.Channels, source.Shape.Height, source.Shape.Width], async (start, count, token) =>
            {
                var read = await source.ReadAsync(start, count, token, skip);
                // The labels and metadata of the kept images only, row for row with their values.
                var rows = read.Kept?.Select(i => (int)(i - start)).ToArray() ?? [.. Enumerable.Range(0, count)];
                return new Rows(read.Raw, list.Labels is { } l ? [.. rows.Select(r => l[start + r])] : null,
                    list.MetadataOf(start, count)?.Select(c => new TextColumn(c.Name, [.. rows.Select(r => c.Values[r])])).ToArray(), read.Kept,
                    skip ? read.Bad : null);
            });
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
        var rows = await _read(shard.Start, count, ct);
        // A shard with nothing left has no model output to give its statistics their shape; with the defaults (shards of 1,024,
        // at most 1,000 bad images) it would pass the limit anyway.
        if (count > 0 && rows.Kept is { Length: 0 } && rows.Bad is [var first, ..])
            throw new ExplainException(
                $"data: none of the {count} images of shard {shard.Index} (samples {shard.Start}–{shard.Start + count - 1}) could be read; the first: {first.Location}: {first.Reason}");
        return new ShardData(shard.Start, rows.Kept?.Length ?? count, rows.Raw, rows.Labels, SampleShape, Features: _features, Metadata: rows.Metadata,
            Cohorts: rows.Metadata is null ? null : CohortColumns, Kept: rows.Kept, Bad: rows.Bad,
            Dependence: _dependence, ErrorTree: _errorTree, SpPick: _spPick);
    }

    /// <summary>
    /// The rows at <paramref name="indices"/> (ascending, distinct), read a span at a time: indices less than
    /// <paramref name="gap"/> rows apart share one ranged read. Every index must be a sample that can be read (a bad image skipped
    /// is never chosen).
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
            var span = await _read(first, checked((int)(last - first + 1)), ct);
            for (var r = at; r < next; r++)
            {
                var row = SampleRows.RowOf(first, span.Raw.Length / size, span.Kept, indices[r]);
                if (row < 0) throw new ExplainException($"data: sample {indices[r]} was chosen but can no longer be read; inputs must not change while a job runs");
                span.Raw.AsSpan(row * size, size).CopyTo(raw.AsSpan(r * size, size));
            }
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

    /// <summary>A range as read: values and labels of the kept samples, their metadata, their indices (null: all) and the bad samples left out.</summary>
    private sealed record Rows(float[] Raw, long[]? Labels, TextColumn[]? Metadata, long[]? Kept = null, BadSample[]? Bad = null);

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
