namespace ExplainCluster.Engine.Segmentation;

/// <summary>Checks of a segmenter's inputs and the one labelling convention all segmenters share.</summary>
public static class SegmentLabels
{
    public static void CheckShape(ReadOnlySpan<float> image, int channels, int height, int width, Span<int> labels)
    {
        if (channels is not (1 or 3)) throw new ExplainException($"segments: images need 1 or 3 channels, not {channels}");
        if (height < 1 || width < 1) throw new ExplainException($"segments: an image of {height}x{width} pixels has nothing to segment");
        if (image.Length != channels * height * width)
            throw new ArgumentException($"image holds {image.Length} values, not {channels}x{height}x{width}", nameof(image));
        if (labels.Length != height * width)
            throw new ArgumentException($"labels hold {labels.Length} values, not {height}x{width}", nameof(labels));
    }

    /// <summary>
    /// Renumbers arbitrary non-negative ids below <paramref name="idBound"/> to 0 … k−1 in order of first
    /// appearance (row-major) and returns k.
    /// </summary>
    public static int Renumber(Span<int> labels, int idBound)
    {
        var map = new int[idBound];
        Array.Fill(map, -1);
        var next = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            ref var id = ref map[labels[i]];
            if (id < 0) id = next++;
            labels[i] = id;
        }
        return next;
    }
}
