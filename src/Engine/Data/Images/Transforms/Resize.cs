using System.Text.Json;

namespace ExplainCluster.Engine.Data.Images.Transforms;

/// <summary>
/// torchvision's <c>Resize(size)</c> on a PIL image (bilinear, always antialiased): an integer sets the shorter side and
/// keeps the aspect ratio (the longer side truncated, as torchvision's <c>int(size * long / short)</c>); [h, w] sets both.
/// An image already at the size is left alone, as torchvision does.
/// </summary>
public sealed class Resize(int[] size) : IImageTransform
{
    public static Resize Read(JsonElement value, string path) => new(TransformJson.Integers(value, path, 1, 1, 2));

    public ImageShape ShapeOf(ImageShape input)
    {
        if (size.Length == 2) return input with { Height = size[0], Width = size[1] };
        var (h, w) = (input.Height, input.Width);
        var (shorter, longer) = w <= h ? (w, h) : (h, w);
        var newLong = (int)((long)size[0] * longer / (double)shorter);
        return w <= h ? input with { Width = size[0], Height = newLong } : input with { Width = newLong, Height = size[0] };
    }

    public Pixels Apply(Pixels image)
    {
        var shape = ShapeOf(ImageShape.Of(image));
        return shape.Width == image.Width && shape.Height == image.Height ? image : PilResample.Resize(image, shape.Width, shape.Height);
    }
}
