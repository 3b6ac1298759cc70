using ExplainCluster.Engine.Report;
using SkiaSharp;

namespace ExplainCluster.Tests.Engine;

/// <summary>
/// How maps are coloured: a signed map on the diverging map centred on zero, an absolute one on viridis, both scaled to the
/// grid's 99th percentile of |value|, and a colour bar under every map grid.
/// </summary>
public class HeatmapsTests
{
    // A 4 × 4 map is drawn 35 pixels a value (Heatmaps' 140-pixel tiles), its tile's top left at (8, 24): padding, then its label.
    private const int Zoom = 35, Left = 8, Top = 24;

    [Fact]
    public void Scale_NearestRankPercentile_AndSignedOnlyWithANegativeValue()
    {
        var values = Enumerable.Range(1, 200).Select(v => (double)v).ToArray();
        Assert.Equal(new MapScale(false, 198), MapScale.Of([values])); // the 198th of 200 sorted |values|
        Assert.Equal(new MapScale(true, 198), MapScale.Of([values, [-0.5]])); // 201 values: rank ⌈198.99⌉ = 199 → 198
        Assert.Equal(new MapScale(false, 1), MapScale.Of([new double[4]])); // all zero: a unit scale, every value at its low end
    }

    [Fact]
    public void Colormaps_Ends_AreViridisAndRdBu_WithRdBusNeutralAtTheMiddle()
    {
        Assert.Equal(new SKColor(0x44, 0x01, 0x54), Colormap.Viridis.At(0));
        Assert.Equal(new SKColor(0xfd, 0xe7, 0x24), Colormap.Viridis.At(1));
        Assert.Equal(new SKColor(0x05, 0x30, 0x61), Colormap.RdBu.At(0));
        Assert.Equal(new SKColor(0xf7, 0xf7, 0xf7), Colormap.RdBu.At(0.5));
        Assert.Equal(new SKColor(0x67, 0x00, 0x1f), Colormap.RdBu.At(1));
    }

    [Fact]
    public void SignedMap_DrawnDiverging_NegativeBlue_ZeroNeutral_PositiveRed()
    {
        // Row 0: −1, −0.5, 0, +0.5; the rest zero but one +1: |value|'s 99th percentile over 16 values is the largest, 1.
        double[] map = [-1, -0.5, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        var scale = MapScale.Of([map]);
        Assert.Equal(new MapScale(true, 1), scale);
        using var png = Decode(Heatmaps.Grid([new Tile("grad-x-input", map, 4, 4, scale, "logit units")], 1, 4, 4));

        var (strongBlue, blue, zero, red) = (At(png, 0, 0), At(png, 0, 1), At(png, 0, 2), At(png, 0, 3));
        Assert.Equal(new SKColor(0x05, 0x30, 0x61), strongBlue);
        Assert.True(blue.Blue > blue.Red + 60, $"−0.5 should be blue, is {blue}");
        Assert.Equal(new SKColor(0xf7, 0xf7, 0xf7), zero);
        Assert.True(red.Red > red.Blue + 60, $"+0.5 should be red, is {red}");
        Assert.Equal(new SKColor(0x67, 0x00, 0x1f), At(png, 3, 3));
    }

    [Fact]
    public void AbsoluteMap_DrawnOnViridis_FromZeroToThePercentile()
    {
        var map = Enumerable.Range(0, 16).Select(v => (double)v).ToArray(); // 0 … 15: limit 15, all ≥ 0
        var scale = MapScale.Of([map]);
        Assert.Equal(new MapScale(false, 15), scale);
        using var png = Decode(Heatmaps.Grid([new Tile("saliency", map, 4, 4, scale, "|∂logit/∂input|")], 1, 4, 4));
        Assert.Equal(Colormap.Viridis.At(0), At(png, 0, 0));
        Assert.Equal(new SKColor(0xfd, 0xe7, 0x24), At(png, 3, 3));
        Assert.Equal(Colormap.Viridis.At(7 / 15.0), At(png, 1, 3));
    }

    [Fact]
    public void ColourBar_UnderEveryMapWithUnits_AndUnderAGrid()
    {
        double[] map = [-2, -1, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var scale = MapScale.Of([map]);
        using var bare = Decode(Heatmaps.Grid([new Tile("m", map, 4, 4, scale)], 1, 4, 4));
        using var barred = Decode(Heatmaps.Grid([new Tile("m", map, 4, 4, scale, "logit units")], 1, 4, 4));
        using var grid = Decode(Heatmaps.Grid([new Tile("m", map, 4, 4, scale), new Tile("n", map, 4, 4, scale)], 2, 4, 4, new GridBar(scale, "mean m (logit units)")));

        // The bar runs across the tile's width 4 pixels under it: dark blue at its left end, grey in its middle, dark red at its right.
        Assert.True(barred.Height > bare.Height);
        var y = Top + 4 * Zoom + 4 + 5;
        Assert.Equal(Colormap.RdBu.At(1.5 / 140), barred.GetPixel(Left + 1, y));
        Assert.Equal(Colormap.RdBu.At(70.5 / 140), barred.GetPixel(Left + 70, y));
        Assert.Equal(Colormap.RdBu.At(138.5 / 140), barred.GetPixel(Left + 138, y));
        // The grid's one bar runs under both tiles, from blue through the neutral grey to red.
        var row = Enumerable.Range(0, grid.Width).Select(x => grid.GetPixel(x, Top + 4 * Zoom + 8 + 5)).ToArray();
        Assert.Contains(row, p => p.Blue > p.Red + 100);
        Assert.Contains(row, p => p.Red > p.Blue + 60);
        Assert.Contains(row, p => Math.Abs(p.Red - 0xf7) <= 2 && Math.Abs(p.Blue - 0xf7) <= 2);
    }

    private static SKBitmap Decode(byte[] png) => SKBitmap.Decode(png);

    /// <summary>The colour at the middle of the value at (<paramref name="row"/>, <paramref name="column"/>) of the first tile.</summary>
    private static SKColor At(SKBitmap png, int row, int column) => png.GetPixel(Left + column * Zoom + Zoom / 2, Top + row * Zoom + Zoom / 2);
}
