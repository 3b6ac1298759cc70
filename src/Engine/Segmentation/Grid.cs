namespace ExplainCluster.Engine.Segmentation;

/// <summary>
/// Rectangular cells, <c>rows</c> × <c>cols</c>, cut where <c>numpy.array_split</c> cuts: the first
/// length mod sections pieces are one pixel longer. Ids run row-major over the cells, which is also
/// their order of first appearance. The image values are not read.
/// </summary>
public sealed class Grid(int rows, int cols) : ISegmenter
{
    public int Segment(ReadOnlySpan<float> image, int channels, int height, int width, Span<int> labels)
    {
        SegmentLabels.CheckShape(image, channels, height, width, labels);
        if (rows > height) throw new ExplainException($"segments.rows: {rows} rows do not fit an image {height} pixels high");
        if (cols > width) throw new ExplainException($"segments.cols: {cols} columns do not fit an image {width} pixels wide");
        var cellOfColumn = Pieces(width, cols);
        var cellOfRow = Pieces(height, rows);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
            labels[y * width + x] = cellOfRow[y] * cols + cellOfColumn[x];
        return rows * cols;
    }

    /// <summary>The piece index of each of <paramref name="length"/> positions split into <paramref name="sections"/>.</summary>
    public static int[] Pieces(int length, int sections)
    {
        var piece = new int[length];
        int size = length / sections, longer = length % sections, position = 0;
        for (var s = 0; s < sections; s++)
            for (var i = 0; i < size + (s < longer ? 1 : 0); i++) piece[position++] = s;
        return piece;
    }
}
