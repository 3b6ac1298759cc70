using ExplainCluster.Engine.Methods;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>The transforms and penalties of feature visualisation on image batches [n, C, H, W].</summary>
internal static class ImageTransforms
{
    /// <summary>
    /// Each row rolled by its own shift (wrapping around, as <c>torch.roll</c>): out[i, :, h, w] =
    /// x[i, :, (h − dy[i]) mod H, (w − dx[i]) mod W]. One gather, so rows are exact copies whatever the batch.
    /// </summary>
    /// <param name="dy">[n] int64 shifts down.</param>
    /// <param name="dx">[n] int64 shifts right.</param>
    public static Tensor Roll(Tensor x, Tensor dy, Tensor dx)
    {
        var (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        // Rooted Scalars throughout (Scalars): this runs every step of a maximisation.
        var rows = (Scalars.Range(0, h, int64, x.device).unsqueeze(0) - dy.unsqueeze(1)).Modulo(h);
        var cols = (Scalars.Range(0, w, int64, x.device).unsqueeze(0) - dx.unsqueeze(1)).Modulo(w);
        var index = rows.unsqueeze(2).Times(w).Plus(cols.unsqueeze(1)).view(n, 1, h * w).expand(n, c, h * w);
        return x.flatten(2).gather(2, index).view(n, c, h, w);
    }

    /// <summary>Σ over each row of squared differences between vertical and horizontal neighbours: [n].</summary>
    public static Tensor TotalVariation(Tensor x)
    {
        var h = x.shape[2];
        var w = x.shape[3];
        var down = (x.narrow(2, 1, h - 1) - x.narrow(2, 0, h - 1)).Squared().sum([1, 2, 3]); // rooted Scalars (Scalars)
        var right = (x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1)).Squared().sum([1, 2, 3]);
        return down.Plus(right);
    }

    /// <summary>A separable Gaussian blur of σ pixels per channel, radius ⌈2σ⌉ (at most the image's side − 1), reflected at the edges.</summary>
    public static Tensor Blur(Tensor x, double sigma)
    {
        var channels = x.shape[1];
        var radius = (int)Math.Min(Math.Ceiling(2 * sigma), Math.Min(x.shape[2], x.shape[3]) - 1);
        if (radius < 1) return x;
        var taps = Enumerable.Range(-radius, 2 * radius + 1).Select(i => Math.Exp(-i * i / (2 * sigma * sigma))).ToArray();
        var total = taps.Sum();
        var kernel = tensor(taps.Select(t => (float)(t / total)).ToArray(), device: x.device).to(x.dtype);
        var padded = nn.functional.pad(x, [radius, radius, radius, radius], PaddingModes.Reflect);
        var across = nn.functional.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, 2 * radius + 1), groups: channels);
        return nn.functional.conv2d(across, kernel.view(1, 1, -1, 1).expand(channels, 1, 2 * radius + 1, 1), groups: channels);
    }
}
