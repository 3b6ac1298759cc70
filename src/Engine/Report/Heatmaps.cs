using SkiaSharp;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// A picture in a grid of maps: <paramref name="Values"/> ([<paramref name="ValuesHeight"/>, <paramref name="ValuesWidth"/>],
/// drawn at the grid's cell size by nearest neighbour) coloured by <paramref name="Scale"/>, or in grey from its minimum to its
/// maximum when it has none (an input); null values leave a marked gap (a method that did not explain the sample).
/// With <paramref name="Units"/>, the tile has its own colour bar under it, labelled with them.
/// </summary>
public sealed record Tile(string Label, double[]? Values, int ValuesHeight, int ValuesWidth, MapScale? Scale = null, string? Units = null);

/// <summary>One colour bar under a whole grid whose tiles share <paramref name="Scale"/>, captioned <paramref name="Label"/>.</summary>
public sealed record GridBar(MapScale Scale, string Label);

/// <summary>
/// PNGs of maps drawn as grids: each tile its own picture (never blended with the input, so its colours read off its bar
/// exactly), a label over each, and a colour bar per tile or one per grid.
/// </summary>
public static class Heatmaps
{
    /// <summary>Tiles are drawn about this many pixels wide (a whole number of pixels per value).</summary>
    private const int TileTarget = 140;

    private const int Pad = 8, LabelHeight = 16, BarHeight = 10, TickHeight = 13, MinCell = 120;

    private static readonly SKTypeface Face = SKTypeface.FromFamilyName("DejaVu Sans") ?? SKTypeface.Default;

    /// <summary>Pixels per value for a [<paramref name="height"/>, <paramref name="width"/>] tile.</summary>
    public static int Zoom(int height, int width) => Math.Max(1, TileTarget / Math.Max(height, width));

    /// <summary>
    /// <paramref name="tiles"/> in rows of <paramref name="columns"/> (a null tile leaves its cell empty), each drawn at [<paramref name="height"/>, <paramref name="width"/>]
    /// values; a row of tiles with their own bars gets room for them; <paramref name="bar"/> goes under the whole grid.
    /// </summary>
    public static byte[] Grid(IReadOnlyList<Tile?> tiles, int columns, int height, int width, GridBar? bar = null, int? zoom = null)
    {
        var z = zoom ?? Zoom(height, width);
        var (tileW, tileH) = (width * z, height * z);
        var cell = Math.Max(tileW, MinCell);
        var rows = tiles.Chunk(columns).ToArray();
        var rowHeights = rows.Select(r => LabelHeight + tileH + (r.Any(t => t?.Units is not null) ? 4 + BarHeight + 2 * TickHeight : 0)).ToArray();
        var imageW = Pad + columns * (cell + Pad);
        var imageH = Pad + rowHeights.Sum(h => h + Pad) + (bar is null ? 0 : BarHeight + 2 * TickHeight + Pad);
        using var surface = SKSurface.Create(new SKImageInfo(imageW, imageH, SKColorType.Rgba8888, SKAlphaType.Premul));
        var canvas = surface.Canvas;
        canvas.Clear(SKColors.White);
        using var font = new SKFont(Face, 11);
        using var small = new SKFont(Face, 10);
        using var ink = new SKPaint { Color = new SKColor(0x22, 0x22, 0x22), IsAntialias = true };
        var y = Pad;
        for (var r = 0; r < rows.Length; r++)
        {
            for (var c = 0; c < rows[r].Length; c++)
            {
                if (rows[r][c] is not { } tile) continue;
                var x = Pad + c * (cell + Pad) + (cell - tileW) / 2;
                canvas.DrawText(Fit(tile.Label, font, cell), Pad + c * (cell + Pad) + cell / 2f, y + LabelHeight - 4, SKTextAlign.Center, font, ink);
                DrawTile(canvas, tile, x, y + LabelHeight, height, width, z, small, ink);
                if (tile.Units is not null && tile.Scale is { } scale && tile.Values is not null)
                    DrawBar(canvas, scale, tile.Units, x, y + LabelHeight + tileH + 4, tileW, cell, small, ink);
            }
            y += rowHeights[r] + Pad;
        }
        if (bar is not null)
        {
            var barW = Math.Min(imageW - 2 * Pad, 360);
            DrawBar(canvas, bar.Scale, bar.Label, (imageW - barW) / 2, y, barW, imageW - 2 * Pad, small, ink);
        }
        using var image = surface.Snapshot();
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>An image in grey from its minimum to its maximum, alone (the inputs activation maximisation made).</summary>
    public static byte[] Grey(double[] image, int height, int width, int zoom = 4)
    {
        var (lo, hi) = (image.Min(), image.Max());
        var pixels = new SKColor[width * zoom * height * zoom];
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var v = (byte)(255 * Normalise(image[y * width + x], lo, hi));
                for (var dy = 0; dy < zoom; dy++)
                    pixels.AsSpan((y * zoom + dy) * width * zoom + x * zoom, zoom).Fill(new SKColor(v, v, v));
            }
        using var bitmap = new SKBitmap(width * zoom, height * zoom) { Pixels = pixels };
        using var encoded = SKImage.FromBitmap(bitmap);
        using var data = encoded.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>The tile's values, one <paramref name="zoom"/>-pixel block per display position, or a grey gap marked "not explained".</summary>
    private static void DrawTile(SKCanvas canvas, Tile tile, int left, int top, int height, int width, int zoom, SKFont font, SKPaint ink)
    {
        using var fill = new SKPaint();
        if (tile.Values is not { } values)
        {
            fill.Color = new SKColor(0xee, 0xee, 0xee);
            canvas.DrawRect(left, top, width * zoom, height * zoom, fill);
            canvas.DrawText("not explained", left + width * zoom / 2f, top + height * zoom / 2f, SKTextAlign.Center, font, ink);
            return;
        }
        var (lo, hi) = tile.Scale is null ? (values.Min(), values.Max()) : (0, 0);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
            {
                var v = values[y * tile.ValuesHeight / height * tile.ValuesWidth + x * tile.ValuesWidth / width];
                if (tile.Scale is { } scale) fill.Color = scale.Colour(v);
                else
                {
                    var g = (byte)Math.Round(255 * Normalise(v, lo, hi));
                    fill.Color = new SKColor(g, g, g);
                }
                canvas.DrawRect(left + x * zoom, top + y * zoom, zoom, zoom, fill);
            }
    }

    /// <summary>A horizontal colour bar <paramref name="width"/> wide, its ends and (signed) its zero written under it, then its label (cut to <paramref name="labelWidth"/>).</summary>
    private static void DrawBar(SKCanvas canvas, MapScale scale, string label, int left, int top, int width, int labelWidth, SKFont font, SKPaint ink)
    {
        using var fill = new SKPaint();
        for (var i = 0; i < width; i++)
        {
            fill.Color = scale.Colormap.At((i + 0.5) / width);
            canvas.DrawRect(left + i, top, 1, BarHeight, fill);
        }
        using var frame = new SKPaint { Color = new SKColor(0x88, 0x88, 0x88), Style = SKPaintStyle.Stroke, StrokeWidth = 1 };
        canvas.DrawRect(left - 0.5f, top - 0.5f, width + 1, BarHeight + 1, frame);
        var baseline = top + BarHeight + TickHeight - 2;
        canvas.DrawText(MapScale.Number(scale.Low), left, baseline, SKTextAlign.Left, font, ink);
        canvas.DrawText((scale.Signed ? "+" : "") + MapScale.Number(scale.Limit), left + width, baseline, SKTextAlign.Right, font, ink);
        if (scale.Signed) canvas.DrawText("0", left + width / 2f, baseline, SKTextAlign.Center, font, ink);
        canvas.DrawText(Fit(label, font, labelWidth), left + width / 2f, baseline + TickHeight, SKTextAlign.Center, font, ink);
    }

    /// <summary>The text, cut with an ellipsis to fit <paramref name="width"/> pixels.</summary>
    private static string Fit(string text, SKFont font, float width)
    {
        if (font.MeasureText(text) <= width) return text;
        var cut = text.Length;
        while (cut > 1 && font.MeasureText(text[..cut] + "…") > width) cut--;
        return text[..cut] + "…";
    }

    private static double Normalise(double v, double lo, double hi) => hi > lo ? Math.Clamp((v - lo) / (hi - lo), 0, 1) : 0;
}
