using ExplainCluster.Contracts;
using ExplainCluster.Engine.Data;
using ExplainCluster.Engine.Storage;

namespace ExplainCluster.Engine.Jobs;

/// <summary>A job's inputs and labels, opened by header only: counts and shapes, no samples.</summary>
public sealed class Dataset
{
    private Dataset(ArrayFile inputs, ArrayFile? labels, int[] sampleShape)
    {
        Inputs = inputs;
        Labels = labels;
        SampleShape = sampleShape;
    }

    public ArrayFile Inputs { get; }

    public ArrayFile? Labels { get; }

    /// <summary>The per-sample shape the model receives.</summary>
    public int[] SampleShape { get; }

    public long Count => Inputs.Header.Count;

    public static async Task<Dataset> OpenAsync(JobSpec job, BlobLocator locator, CancellationToken ct = default)
    {
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
        return new Dataset(inputs, labels, SampleShapeOf(job, inputs.Header));
    }

    public async Task<ShardData> ReadAsync(ShardSpec shard, CancellationToken ct = default)
    {
        var count = checked((int)shard.Count);
        var raw = await Inputs.ReadFloatsAsync(shard.Start, count, ct);
        var labels = Labels is null ? null : await Labels.ReadIntegersAsync(shard.Start, count, ct);
        return new ShardData(shard.Start, count, raw, labels, SampleShape);
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
