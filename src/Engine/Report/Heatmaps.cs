using SkiaSharp;

namespace ExplainCluster.Engine.Report;

/// <summary>Small PNGs of maps: a grey base image with an attribution map blended over it.</summary>
public static class Heatmaps
{
    /// <param name="baseImage">[H, W] values, or null for the map alone.</param>
    /// <param name="map">[h, w] values, resized to [H, W] by nearest neighbour.</param>
    public static byte[] Overlay(double[]? baseImage, int height, int width, double[] map, int mapHeight, int mapWidth, int zoom = 4)
    {
        var (baseLo, baseHi) = Range(baseImage ?? [0.0]);
        var (mapLo, mapHi) = Range(map);
        var pixels = new SKColor[width * zoom * height * zoom];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var grey = baseImage is null ? 0.0 : Normalise(baseImage[y * width + x], baseLo, baseHi);
                var m = Normalise(map[(y * mapHeight / height) * mapWidth + x * mapWidth / width], mapLo, mapHi);
                var (r, g, b) = Jet(m);
                var alpha = baseImage is null ? 1.0 : 0.55;
                var colour = new SKColor(
                    (byte)(255 * (alpha * r + (1 - alpha) * grey)),
                    (byte)(255 * (alpha * g + (1 - alpha) * grey)),
                    (byte)(255 * (alpha * b + (1 - alpha) * grey)));
                Fill(pixels, width * zoom, x, y, zoom, colour);
            }
        return Encode(pixels, width * zoom, height * zoom);
    }

    public static byte[] Grey(double[] image, int height, int width, int zoom = 4)
    {
        var (lo, hi) = Range(image);
        var pixels = new SKColor[width * zoom * height * zoom];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var v = (byte)(255 * Normalise(image[y * width + x], lo, hi));
                Fill(pixels, width * zoom, x, y, zoom, new SKColor(v, v, v));
            }
        return Encode(pixels, width * zoom, height * zoom);
    }

    /// <summary>One source pixel as a zoom × zoom block.</summary>
    private static void Fill(SKColor[] pixels, int stride, int x, int y, int zoom, SKColor colour)
    {
        for (var dy = 0; dy < zoom; dy++)
            pixels.AsSpan((y * zoom + dy) * stride + x * zoom, zoom).Fill(colour);
    }

    private static byte[] Encode(SKColor[] pixels, int width, int height)
    {
        using var bitmap = new SKBitmap(width, height) { Pixels = pixels };
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static (double, double) Range(double[] values) => (values.Min(), values.Max());

    private static double Normalise(double v, double lo, double hi) => hi > lo ? Math.Clamp((v - lo) / (hi - lo), 0, 1) : 0;

    private static (double, double, double) Jet(double v) =>
        (Math.Clamp(1.5 - Math.Abs(4 * v - 3), 0, 1), Math.Clamp(1.5 - Math.Abs(4 * v - 2), 0, 1), Math.Clamp(1.5 - Math.Abs(4 * v - 1), 0, 1));
}
