using System.Globalization;
using SkiaSharp;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// How one grid of maps is coloured, stated in its caption and drawn as its colour bar. A grid with a negative value is
/// signed: <see cref="Colormap.RdBu"/>, symmetric ±<paramref name="Limit"/> around zero, which is its neutral grey; else
/// absolute: <see cref="Colormap.Viridis"/> from 0 to <paramref name="Limit"/>. The limit is the 99th percentile of
/// |value| over the whole grid (so one hot pixel does not wash out the rest); values beyond it take the end colours.
/// </summary>
public sealed record MapScale(bool Signed, double Limit)
{
    /// <summary>The percentile of |value| a grid is scaled to.</summary>
    public const double Percentile = 0.99;

    /// <summary>The scale of a grid made of <paramref name="maps"/>: signed if any value is negative, limit at the 99th percentile of |value| (nearest rank).</summary>
    public static MapScale Of(IEnumerable<double[]> maps)
    {
        var values = maps.SelectMany(m => m).Where(double.IsFinite).ToArray();
        var signed = values.Any(v => v < 0);
        var magnitudes = Array.ConvertAll(values, Math.Abs);
        Array.Sort(magnitudes);
        var limit = magnitudes.Length == 0 ? 0 : magnitudes[Math.Max(0, (int)Math.Ceiling(Percentile * magnitudes.Length) - 1)];
        if (limit <= 0) limit = magnitudes.Length == 0 ? 0 : magnitudes[^1];
        return new MapScale(signed, limit > 0 ? limit : 1);
    }

    public Colormap Colormap => Signed ? Colormap.RdBu : Colormap.Viridis;

    /// <summary>Where <paramref name="value"/> falls on the colour map, 0 to 1 (zero at ½ for a signed scale).</summary>
    public double Position(double value) => Signed ? (value / Limit + 1) / 2 : value / Limit;

    public SKColor Colour(double value) => Colormap.At(Position(value));

    /// <summary>The bar's low end, as written under it.</summary>
    public double Low => Signed ? -Limit : 0;

    /// <summary>The colours and the range in words, for captions: "RdBu, symmetric ±0.012 (blue negative, red positive)".</summary>
    public string Describe() => Signed
        ? string.Create(CultureInfo.InvariantCulture, $"{Colormap.Name}, symmetric ±{Limit:G3} (blue negative, grey zero, red positive)")
        : string.Create(CultureInfo.InvariantCulture, $"{Colormap.Name}, 0 to {Limit:G3}");

    /// <summary>A number as the bar and alt texts write it: three significant digits, a true minus sign.</summary>
    public static string Number(double value) => value.ToString("G3", CultureInfo.InvariantCulture).Replace('-', '−');
}
