namespace ExplainCluster.Engine.Data.Images;

/// <summary>
/// PIL's antialiased bilinear resize of 8-bit images (Pillow's libImaging/Resample.c, <c>ImagingResample</c> with the
/// triangle filter), which torchvision's <c>Resize</c> calls on PIL images: the filter's support is scaled by the
/// downscale factor, coefficients are rounded to 22-bit fixed point, and the horizontal pass (rounded to 8 bits)
/// runs before the vertical one, over the rows the vertical pass uses. Ported line for line so results are PIL's
/// to the bit.
/// </summary>
public static class PilResample
{
    private const int PrecisionBits = 32 - 8 - 2;

    public static Pixels Resize(Pixels image, int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), "a resize to an empty image");
        if (width == image.Width && height == image.Height) return image with { Data = (byte[])image.Data.Clone() };
        var (vBounds, vKernel, vSize) = Coefficients(image.Height, height);
        var first = vBounds[0];
        var last = vBounds[(height - 1) * 2] + vBounds[(height - 1) * 2 + 1];
        var current = image;
        if (width != image.Width)
        {
            var (hBounds, hKernel, hSize) = Coefficients(image.Width, width);
            for (var i = 0; i < height; i++) vBounds[i * 2] -= first;
            current = Horizontal(image, width, first, last - first, hBounds, hKernel, hSize);
        }
        return height != image.Height ? Vertical(current, height, vBounds, vKernel, vSize) : current;
    }

    /// <summary>For each output position, its first input position and count, and its fixed-point weights.</summary>
    private static (int[] Bounds, int[] Kernel, int Size) Coefficients(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize, filterScale = Math.Max(scale, 1.0);
        var support = 1.0 * filterScale;
        var size = (int)Math.Ceiling(support) * 2 + 1;
        var bounds = new int[outSize * 2];
        var kernel = new int[outSize * size];
        var weights = new double[size];
        var inverse = 1.0 / filterScale;
        for (var xx = 0; xx < outSize; xx++)
        {
            var center = (xx + 0.5) * scale;
            var min = Math.Max(0, (int)(center - support + 0.5));
            var max = Math.Min(inSize, (int)(center + support + 0.5)) - min;
            var total = 0.0;
            for (var x = 0; x < max; x++) total += weights[x] = Triangle((x + min - center + 0.5) * inverse);
            for (var x = 0; x < max; x++)
            {
                var w = total != 0.0 ? weights[x] / total : weights[x];
                kernel[xx * size + x] = w < 0 ? (int)(-0.5 + w * (1 << PrecisionBits)) : (int)(0.5 + w * (1 << PrecisionBits));
            }
            bounds[xx * 2] = min;
            bounds[xx * 2 + 1] = max;
        }
        return (bounds, kernel, size);
    }

    private static double Triangle(double x)
    {
        x = Math.Abs(x);
        return x < 1.0 ? 1.0 - x : 0.0;
    }

    private static Pixels Horizontal(Pixels image, int width, int offset, int rows, int[] bounds, int[] kernel, int size)
    {
        var c = image.Channels;
        var output = new byte[rows * width * c];
        for (var y = 0; y < rows; y++)
        {
            var row = (y + offset) * image.Width * c;
            for (var xx = 0; xx < width; xx++)
            {
                int min = bounds[xx * 2], count = bounds[xx * 2 + 1], k = xx * size;
                for (var ch = 0; ch < c; ch++)
                {
                    var sum = 1 << (PrecisionBits - 1);
                    for (var x = 0; x < count; x++) sum += image.Data[row + (x + min) * c + ch] * kernel[k + x];
                    output[(y * width + xx) * c + ch] = Clip8(sum);
                }
            }
        }
        return new Pixels(width, rows, c, output);
    }

    private static Pixels Vertical(Pixels image, int height, int[] bounds, int[] kernel, int size)
    {
        var c = image.Channels;
        var stride = image.Width * c;
        var output = new byte[height * stride];
        for (var yy = 0; yy < height; yy++)
        {
            int min = bounds[yy * 2], count = bounds[yy * 2 + 1], k = yy * size;
            for (var i = 0; i < stride; i++)
            {
                var sum = 1 << (PrecisionBits - 1);
                for (var y = 0; y < count; y++) sum += image.Data[(y + min) * stride + i] * kernel[k + y];
                output[yy * stride + i] = Clip8(sum);
            }
        }
        return new Pixels(image.Width, height, c, output);
    }

    private static byte Clip8(int sum) => (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);
}
