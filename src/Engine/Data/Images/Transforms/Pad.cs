using System.Text.Json;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Data.Images.Transforms;

/// <summary>
/// torchvision's <c>Pad(padding, fill, padding_mode)</c>: padding an integer (every side), [left/right, top/bottom] or
/// [left, top, right, bottom]; <c>mode</c> constant (with <c>fill</c>, 0–255), edge, reflect or symmetric (NumPy's
/// <c>np.pad</c> modes, which torchvision uses for PIL images).
/// </summary>
public sealed class Pad(int left, int top, int right, int bottom, Func<int, int, int>? mirror, byte fill) : IImageTransform
{
    /// <summary><c>{"pad": 2}</c>, <c>{"pad": [2, 1]}</c> or <c>{"pad": {"padding": …, "fill": 0, "mode": "constant"}}</c>.</summary>
    public static Pad Read(JsonElement value, string path)
    {
        JsonElement padding = value;
        var fill = 0;
        var mode = "constant";
        if (value.ValueKind == JsonValueKind.Object)
        {
            var options = new OptionsReader(value, path + ".");
            padding = options.Raw("padding") ?? throw new ExplainException($"{path}.padding: missing");
            fill = options.Integer("fill", 0, 0, 255);
            mode = options.Choice("mode", "constant", "edge", "reflect", "symmetric");
            options.RejectUnread();
            path += ".padding";
        }
        var p = TransformJson.Integers(padding, path, 0, 1, 2, 4);
        var (l, t, r, b) = p.Length switch { 1 => (p[0], p[0], p[0], p[0]), 2 => (p[0], p[1], p[0], p[1]), _ => (p[0], p[1], p[2], p[3]) };
        Func<int, int, int>? mirror = mode switch
        {
            "edge" => static (i, n) => Math.Clamp(i, 0, n - 1),
            "reflect" => Reflect,
            "symmetric" => Symmetric,
            _ => null,
        };
        return new Pad(l, t, r, b, mirror, (byte)fill);
    }

    public ImageShape ShapeOf(ImageShape input) => input with { Height = input.Height + top + bottom, Width = input.Width + left + right };

    public Pixels Apply(Pixels image) => mirror is null ? Constant(image, left, top, right, bottom, fill) : Mirrored(image, mirror);

    public static Pixels Constant(Pixels image, int left, int top, int right, int bottom, byte fill)
    {
        int width = image.Width + left + right, height = image.Height + top + bottom, c = image.Channels;
        var output = new byte[height * width * c];
        if (fill != 0) Array.Fill(output, fill);
        for (var y = 0; y < image.Height; y++)
            Array.Copy(image.Data, y * image.Width * c, output, ((y + top) * width + left) * c, image.Width * c);
        return new Pixels(width, height, c, output);
    }

    private Pixels Mirrored(Pixels image, Func<int, int, int> source)
    {
        int width = image.Width + left + right, height = image.Height + top + bottom, c = image.Channels;
        var output = new byte[height * width * c];
        for (var y = 0; y < height; y++)
        {
            var sy = source(y - top, image.Height);
            for (var x = 0; x < width; x++)
                Array.Copy(image.Data, (sy * image.Width + source(x - left, image.Width)) * c, output, (y * width + x) * c, c);
        }
        return new Pixels(width, height, c, output);
    }

    /// <summary>NumPy's "reflect": mirrored about the edge pixel, which is not repeated (period 2n − 2).</summary>
    private static int Reflect(int i, int n)
    {
        if (n == 1) return 0;
        var period = 2 * n - 2;
        i = ((i % period) + period) % period;
        return i < n ? i : period - i;
    }

    /// <summary>NumPy's "symmetric": mirrored with the edge pixel repeated (period 2n).</summary>
    private static int Symmetric(int i, int n)
    {
        var period = 2 * n;
        i = ((i % period) + period) % period;
        return i < n ? i : period - 1 - i;
    }
}
