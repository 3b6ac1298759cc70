namespace ExplainCluster.Engine.Segmentation;

/// <summary>Labels of n images, row-major [n, height, width], and each image's segment count.</summary>
public sealed record SegmentedBatch(int[] Labels, int[] Counts, int Height, int Width);

/// <summary>
/// Segments a batch in plain C# on the thread pool, one image per work item: segmentation needs no tensors,
/// so it stays off the model host's threads and can overlap with them.
/// </summary>
public static class SegmentBatch
{
    /// <param name="images">Row-major values in [0, 1] of shape <paramref name="shape"/>: [n, C, H, W] with C 1 or 3, or [n, H, W].</param>
    public static SegmentedBatch Run(ISegmenter segmenter, float[] images, IReadOnlyList<int> shape, int maxDegreeOfParallelism = -1)
    {
        var (count, channels, height, width) = shape.Count switch
        {
            3 => (shape[0], 1, shape[1], shape[2]),
            4 => (shape[0], shape[1], shape[2], shape[3]),
            _ => throw new ExplainException($"segments: images need shape [n, C, H, W] or [n, H, W], not [{string.Join(", ", shape)}]"),
        };
        var imageSize = channels * height * width;
        var pixels = height * width;
        if (images.Length != (long)count * imageSize)
            throw new ArgumentException($"{images.Length} values do not have shape [{string.Join(", ", shape)}]", nameof(images));
        var labels = new int[count * pixels];
        var counts = new int[count];
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, i =>
            counts[i] = segmenter.Segment(images.AsSpan(i * imageSize, imageSize), channels, height, width, labels.AsSpan(i * pixels, pixels)));
        return new SegmentedBatch(labels, counts, height, width);
    }
}
