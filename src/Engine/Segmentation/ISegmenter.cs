namespace ExplainCluster.Engine.Segmentation;

/// <summary>
/// Cuts one image into segments, the features that lime and kernel-shap switch on and off.
/// Implementations are stateless and thread-safe, so one instance serves a whole batch in parallel.
/// </summary>
public interface ISegmenter
{
    /// <summary>
    /// Labels every pixel of <paramref name="image"/> and returns k, the number of segments.
    /// </summary>
    /// <param name="image">
    /// Planar, row-major [channels, height, width] values in [0, 1]: the caller divides uint8 data by 255,
    /// because the colour thresholds (sRGB linearisation, CIE Lab) and lime's distances assume that range,
    /// exactly as scikit-image's <c>img_as_float</c> does for lime's uint8 images.
    /// </param>
    /// <param name="channels">1 (replicated to RGB, like lime's <c>gray2rgb</c>) or 3 (RGB).</param>
    /// <param name="labels">
    /// height · width ids, written row-major: 0 … k−1, every id used, numbered in order of first appearance
    /// in row-major order. That order depends only on the partition, so it is the same whatever the
    /// algorithm's internal numbering and gives equal partitions equal arrays.
    /// </param>
    int Segment(ReadOnlySpan<float> image, int channels, int height, int width, Span<int> labels);
}
