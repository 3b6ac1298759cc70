namespace ExplainCluster.Engine.Segmentation;

/// <summary>
/// sRGB in [0, 1] to CIE Lab (D65, 2° observer), with scikit-image's constants (<c>rgb2lab</c>), so that
/// distances between colours are the ones its quickshift and SLIC measure.
/// </summary>
public static class CieLab
{
    private const double WhiteX = 0.95047, WhiteY = 1.0, WhiteZ = 1.08883;

    /// <summary>
    /// Interleaved [height·width, 3] Lab values of a planar [channels, height, width] image, one channel
    /// counting as grey (R = G = B). Every input value v is first taken as (v − <paramref name="offset"/>) /
    /// <paramref name="divisor"/> (SLIC's stretch to [0, 1]) and every Lab value is multiplied by
    /// <paramref name="scale"/> (quickshift's ratio, SLIC's 1 / compactness).
    /// </summary>
    public static double[] FromPlanar(ReadOnlySpan<float> image, int channels, int pixels, double scale = 1.0, double offset = 0.0, double divisor = 1.0)
    {
        var lab = new double[pixels * 3];
        var green = channels == 3 ? pixels : 0;
        var blue = channels == 3 ? 2 * pixels : 0;
        for (var p = 0; p < pixels; p++)
        {
            Convert((image[p] - offset) / divisor, (image[green + p] - offset) / divisor, (image[blue + p] - offset) / divisor,
                lab.AsSpan(3 * p, 3));
            lab[3 * p] *= scale;
            lab[3 * p + 1] *= scale;
            lab[3 * p + 2] *= scale;
        }
        return lab;
    }

    public static void Convert(double r, double g, double b, Span<double> lab)
    {
        r = Linear(r);
        g = Linear(g);
        b = Linear(b);
        var x = Curve((0.412453 * r + 0.357580 * g + 0.180423 * b) / WhiteX);
        var y = Curve((0.212671 * r + 0.715160 * g + 0.072169 * b) / WhiteY);
        var z = Curve((0.019334 * r + 0.119193 * g + 0.950227 * b) / WhiteZ);
        lab[0] = (116.0 * y - 16.0);
        lab[1] = 500.0 * (x - y);
        lab[2] = 200.0 * (y - z);
    }

    private static double Linear(double v) => v > 0.04045 ? Math.Pow((v + 0.055) / 1.055, 2.4) : v / 12.92;

    private static double Curve(double t) => t > 0.008856 ? Math.Cbrt(t) : 7.787 * t + 16.0 / 116.0;
}
