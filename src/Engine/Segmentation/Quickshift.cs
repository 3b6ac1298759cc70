namespace ExplainCluster.Engine.Segmentation;

/// <summary>
/// Quick shift (Vedaldi and Soatto, 2008) as scikit-image 0.19 runs it for lime: in (ratio · Lab, row, col)
/// space, each pixel's density is a Gaussian sum over a window of ±⌈3·kernelSize⌉ pixels, each pixel links
/// to the nearest pixel of higher density in that window unless farther than <c>maxDist</c>, and the
/// trees of those links are the segments.
/// </summary>
/// <remarks>
/// scikit-image adds N(0, 1e-5²) noise from NumPy's generator to the densities so that equal densities
/// still order; this adds noise of the same size from its own seeded generator, so the result is
/// deterministic and agrees with scikit-image's except where exact ties are broken the other way.
/// </remarks>
public sealed class Quickshift(double kernelSize, double maxDist, double ratio) : ISegmenter
{
    private const double TieNoise = 1e-5;
    private const ulong NoiseSeed = 42;

    public int Segment(ReadOnlySpan<float> image, int channels, int height, int width, Span<int> labels)
    {
        SegmentLabels.CheckShape(image, channels, height, width, labels);
        var pixels = height * width;
        var lab = CieLab.FromPlanar(image, channels, pixels, ratio);
        var window = (int)Math.Ceiling(3 * kernelSize);
        var density = Densities(lab, height, width, window, -0.5 / (kernelSize * kernelSize));

        var parent = new int[pixels];
        for (var r = 0; r < height; r++)
        for (var c = 0; c < width; c++)
        {
            var p = r * width + c;
            var closest = double.MaxValue;
            parent[p] = p;
            for (var r2 = Math.Max(r - window, 0); r2 < Math.Min(r + window + 1, height); r2++)
            for (var c2 = Math.Max(c - window, 0); c2 < Math.Min(c + window + 1, width); c2++)
            {
                var q = r2 * width + c2;
                if (density[q] <= density[p]) continue;
                var d = Distance(lab, p, q, r - r2, c - c2);
                if (d < closest) { closest = d; parent[p] = q; }
            }
            if (Math.Sqrt(closest) > maxDist) parent[p] = p;
        }

        // Every pixel takes the root of its tree; links point to strictly higher density, so there are no cycles.
        for (var p = 0; p < pixels; p++)
        {
            var root = p;
            while (parent[root] != root) root = parent[root];
            labels[p] = root;
            for (var q = p; q != root; )
            {
                var next = parent[q];
                parent[q] = root;
                q = next;
            }
        }
        return SegmentLabels.Renumber(labels, pixels);
    }

    /// <summary>
    /// Σ exp(d² · <paramref name="gain"/>) over each pixel's window plus the tie-breaking noise. A pair's term is
    /// computed once and added to both pixels: the windows are symmetric, so this halves the work.
    /// </summary>
    private static double[] Densities(double[] lab, int height, int width, int window, double gain)
    {
        var density = Noise(height * width);
        for (var r = 0; r < height; r++)
        for (var c = 0; c < width; c++)
        {
            var p = r * width + c;
            density[p] += 1.0;
            for (var r2 = r; r2 < Math.Min(r + window + 1, height); r2++)
            for (var c2 = r2 == r ? c + 1 : Math.Max(c - window, 0); c2 < Math.Min(c + window + 1, width); c2++)
            {
                var q = r2 * width + c2;
                var e = Math.Exp(Distance(lab, p, q, r - r2, c - c2) * gain);
                density[p] += e;
                density[q] += e;
            }
        }
        return density;
    }

    private static double Distance(double[] lab, int p, int q, int dr, int dc)
    {
        double t0 = lab[3 * p] - lab[3 * q], t1 = lab[3 * p + 1] - lab[3 * q + 1], t2 = lab[3 * p + 2] - lab[3 * q + 2];
        return t0 * t0 + t1 * t1 + t2 * t2 + dr * dr + dc * dc;
    }

    /// <summary>N(0, (1e-5)²) per pixel from SplitMix64 and Box–Muller: the same for every image of a size.</summary>
    private static double[] Noise(int count)
    {
        var noise = new double[count];
        var state = NoiseSeed;
        for (var i = 0; i < count; i += 2)
        {
            var u1 = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
            var u2 = (Next(ref state) >> 11) * (1.0 / (1UL << 53));
            var radius = Math.Sqrt(-2.0 * Math.Log(1.0 - u1)) * TieNoise;
            noise[i] = radius * Math.Cos(2 * Math.PI * u2);
            if (i + 1 < count) noise[i + 1] = radius * Math.Sin(2 * Math.PI * u2);
        }
        return noise;
    }

    private static ulong Next(ref ulong state)
    {
        var z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
