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
        using var bitmap = new SKBitmap(width * zoom, height * zoom);
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
                for (var dy = 0; dy < zoom; dy++)
                    for (var dx = 0; dx < zoom; dx++) bitmap.SetPixel(x * zoom + dx, y * zoom + dy, colour);
            }
        return Encode(bitmap);
    }

    public static byte[] Grey(double[] image, int height, int width, int zoom = 4)
    {
        var (lo, hi) = Range(image);
        using var bitmap = new SKBitmap(width * zoom, height * zoom);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var v = (byte)(255 * Normalise(image[y * width + x], lo, hi));
                for (var dy = 0; dy < zoom; dy++)
                    for (var dx = 0; dx < zoom; dx++) bitmap.SetPixel(x * zoom + dx, y * zoom + dy, new SKColor(v, v, v));
            }
        return Encode(bitmap);
    }

    private static byte[] Encode(SKBitmap bitmap)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static (double, double) Range(double[] values) => (values.Min(), values.Max());

    private static double Normalise(double v, double lo, double hi) => hi > lo ? Math.Clamp((v - lo) / (hi - lo), 0, 1) : 0;

    private static (double, double, double) Jet(double v) =>
        (Math.Clamp(1.5 - Math.Abs(4 * v - 3), 0, 1), Math.Clamp(1.5 - Math.Abs(4 * v - 2), 0, 1), Math.Clamp(1.5 - Math.Abs(4 * v - 1), 0, 1));
}
