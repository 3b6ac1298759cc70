using System.Globalization;

namespace ExplainCluster.Engine.Report;

/// <summary>A map in words and numbers, for the alt text of the figures that draw it: where it peaks, and for a signed map where it dips and how much of it is negative.</summary>
public static class MapText
{
    /// <param name="planes">The map's shape as <see cref="ReportContext.Planes"/> gives it (its values are one plane).</param>
    public static string Describe(string label, double[] map, (int Channels, int Height, int Width) planes, MapScale scale)
    {
        var inv = CultureInfo.InvariantCulture;
        var (max, min) = (Peak(map, (a, b) => a > b), Peak(map, (a, b) => a < b));
        var text = $"{label} ({scale.Describe()}): largest {MapScale.Number(map[max])} at {Where(max, planes.Width)}";
        if (!scale.Signed) return text + ".";
        var negative = map.Count(v => v < 0) / (double)map.Length;
        return text + string.Create(inv, $", most negative {MapScale.Number(map[min])} at {Where(min, planes.Width)}, {negative:P0} of its {planes.Height}×{planes.Width} values negative.");
    }

    /// <summary>The first position of the largest value by <paramref name="better"/>.</summary>
    private static int Peak(double[] map, Func<double, double, bool> better)
    {
        var best = 0;
        for (var i = 1; i < map.Length; i++)
            if (better(map[i], map[best])) best = i;
        return best;
    }

    private static string Where(int position, int width) => string.Create(CultureInfo.InvariantCulture, $"row {position / width}, column {position % width}");
}
