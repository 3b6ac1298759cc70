namespace ExplainCluster.Engine.Segmentation;

/// <summary>
/// SLIC superpixels (Achanta et al., 2012) as scikit-image 0.19's <c>slic</c> runs them with its defaults:
/// the image stretched to [0, 1], converted to Lab and divided by <c>compactness</c>; centres seeded on
/// <c>regular_grid</c> with colour 0; ten k-means passes over windows of ±2 grid steps; then connectivity
/// enforced, with pieces under half a nominal segment merged into a neighbour.
/// </summary>
/// <remarks>
/// The arithmetic follows <c>_slic.pyx</c> operation for operation, in double, so the labels are the same
/// as scikit-image's up to rounding in the colour conversion. scikit-image runs all ten passes even when
/// nothing moves (its "changed" flag is set by any assignment), and so does this.
/// </remarks>
public sealed class Slic(int segments, double compactness) : ISegmenter
{
    private const int MaxIterations = 10;
    private const double MinSizeFactor = 0.5;
    private const double MaxSizeFactor = 3;

    public int Segment(ReadOnlySpan<float> image, int channels, int height, int width, Span<int> labels)
    {
        SegmentLabels.CheckShape(image, channels, height, width, labels);
        var pixels = height * width;
        var min = double.MaxValue;
        var max = double.MinValue;
        foreach (var v in image) { min = Math.Min(min, v); max = Math.Max(max, v); }
        var range = max - min;
        var lab = CieLab.FromPlanar(image, channels, pixels, 1.0 / compactness, min, range != 0 ? range : 1.0);

        var (steps, centres) = Seeds(height, width, segments);
        var nearest = Cluster(lab, height, width, steps, centres);
        var segmentSize = (double)pixels / (centres.Length / Features);
        return EnforceConnectivity(nearest, height, width, (int)(MinSizeFactor * segmentSize), (int)(MaxSizeFactor * segmentSize), labels);
    }

    /// <summary>Per centre: row, column, L, a, b.</summary>
    private const int Features = 5;

    /// <summary>Grid steps along (row, col) and the initial centres: <c>regular_grid</c> seeds, colour 0.</summary>
    private static ((int Row, int Col) Steps, double[] Centres) Seeds(int height, int width, int count)
    {
        var grid = RegularGrid([1, height, width], count);
        var centres = new List<double>();
        for (var r = grid[1].Start; r < height; r += grid[1].Step)
        for (var c = grid[2].Start; c < width; c += grid[2].Step)
            centres.AddRange([r, c, 0, 0, 0]);
        return ((grid[1].Step, grid[2].Step), [.. centres]);
    }

    /// <summary>
    /// skimage.util.regular_grid: points spaced by the n-th root of the volume per point, a dimension too
    /// short for that step taking one point and the rest shared by the others. Starts at ⌊step/2⌋ with the
    /// step rounded half to even, as NumPy rounds.
    /// </summary>
    public static (int Start, int Step)[] RegularGrid(int[] shape, int points)
    {
        var ndim = shape.Length;
        var order = Enumerable.Range(0, ndim).OrderBy(d => shape[d]).ToArray(); // stable, as NumPy's sort of 3
        var sorted = order.Select(d => (double)shape[d]).ToArray();
        var spaceSize = sorted.Aggregate(1.0, (a, b) => a * b);
        if (spaceSize <= points) return [.. Enumerable.Repeat((0, 1), ndim)];

        var steps = Enumerable.Repeat(Math.Pow(spaceSize / points, 1.0 / ndim), ndim).ToArray();
        if (!Fits(sorted, steps))
        {
            for (var d = 0; d < ndim - 1; d++)
            {
                steps[d] = sorted[d];
                var rest = sorted[(d + 1)..].Aggregate(1.0, (a, b) => a * b);
                for (var e = d + 1; e < ndim; e++) steps[e] = Math.Pow(rest / points, 1.0 / (ndim - d - 1));
                if (Fits(sorted, steps)) break;
            }
        }
        var grid = new (int Start, int Step)[ndim];
        for (var d = 0; d < ndim; d++) grid[order[d]] = ((int)Math.Floor(steps[d] / 2), (int)Math.Round(steps[d], MidpointRounding.ToEven));
        return grid;
    }

    private static bool Fits(double[] dims, double[] steps) => dims.Select((d, i) => d >= steps[i]).All(fits => fits);

    /// <summary>k-means in (row, col, colour) with the spatial term weighted by 1 / step²; returns each pixel's centre.</summary>
    private static int[] Cluster(double[] lab, int height, int width, (int Row, int Col) steps, double[] centres)
    {
        var count = centres.Length / Features;
        var step = (double)Math.Max(1, Math.Max(steps.Row, steps.Col));
        var spatialWeight = 1.0 / (step * step);
        var nearest = new int[height * width];
        Array.Fill(nearest, -1);
        var distance = new double[height * width];
        var members = new int[count];
        for (var iteration = 0; iteration < MaxIterations; iteration++)
        {
            Array.Fill(distance, double.MaxValue);
            var changed = false;
            for (var k = 0; k < count; k++)
            {
                var centre = centres.AsSpan(k * Features, Features);
                double cy = centre[0], cx = centre[1];
                if (double.IsNaN(cy)) continue; // emptied on an earlier pass: NaN distances never win in skimage either
                var rowMax = (int)Math.Min(cy + 2 * steps.Row + 1, height);
                var colMin = (int)Math.Max(cx - 2 * steps.Col, 0);
                var colMax = (int)Math.Min(cx + 2 * steps.Col + 1, width);
                for (var y = (int)Math.Max(cy - 2 * steps.Row, 0); y < rowMax; y++)
                {
                    var dy = cy - y;
                    dy *= dy;
                    for (var x = colMin; x < colMax; x++)
                    {
                        var dx = cx - x;
                        dx *= dx;
                        var p = y * width + x;
                        double t0 = lab[3 * p] - centre[2], t1 = lab[3 * p + 1] - centre[3], t2 = lab[3 * p + 2] - centre[4];
                        var d = (0.0 + dy + dx) * spatialWeight + (t0 * t0 + t1 * t1 + t2 * t2);
                        if (distance[p] > d)
                        {
                            nearest[p] = k;
                            distance[p] = d;
                            changed = true;
                        }
                    }
                }
            }
            if (!changed) break;

            Array.Clear(centres);
            Array.Clear(members);
            for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var p = y * width + x;
                var k = nearest[p];
                if (k < 0) continue;
                members[k]++;
                var centre = centres.AsSpan(k * Features, Features);
                centre[0] += y;
                centre[1] += x;
                centre[2] += lab[3 * p];
                centre[3] += lab[3 * p + 1];
                centre[4] += lab[3 * p + 2];
            }
            for (var k = 0; k < count; k++)
                for (var f = 0; f < Features; f++) centres[k * Features + f] /= members[k];
        }

        // No window reached these (skimage would index its centres at −1 here); each becomes its own label.
        for (var p = 0; p < nearest.Length; p++) if (nearest[p] < 0) nearest[p] = count;
        return nearest;
    }

    /// <summary>
    /// _enforce_label_connectivity_cython: a breadth-first search per connected piece in row-major order
    /// (neighbours x+1, x−1, y+1, y−1), at most <paramref name="maxSize"/> pixels per search; a piece under
    /// <paramref name="minSize"/> takes the label of the last labelled neighbour it touched.
    /// </summary>
    private static int EnforceConnectivity(int[] nearest, int height, int width, int minSize, int maxSize, Span<int> labels)
    {
        labels.Fill(-1);
        ReadOnlySpan<int> dx = [1, -1, 0, 0];
        ReadOnlySpan<int> dy = [0, 0, 1, -1];
        var queue = new int[Math.Max(maxSize, 1)];
        var next = 0;
        for (var start = 0; start < nearest.Length; start++)
        {
            if (labels[start] > -1) continue;
            var adjacent = next;
            var label = nearest[start];
            labels[start] = next;
            queue[0] = start;
            int size = 1, visited = 0;
            while (visited < size && size < maxSize)
            {
                var (y, x) = Math.DivRem(queue[visited], width);
                for (var i = 0; i < 4; i++)
                {
                    int yy = y + dy[i], xx = x + dx[i];
                    if (xx < 0 || xx >= width || yy < 0 || yy >= height) continue;
                    var q = yy * width + xx;
                    if (nearest[q] == label && labels[q] == -1)
                    {
                        labels[q] = next;
                        queue[size++] = q;
                        if (size >= maxSize) break;
                    }
                    else if (labels[q] > -1 && labels[q] != next) adjacent = labels[q];
                }
                visited++;
            }
            if (size < minSize)
                for (var i = 0; i < size; i++) labels[queue[i]] = adjacent;
            else next++;
        }
        return SegmentLabels.Renumber(labels, next + 1);
    }
}
