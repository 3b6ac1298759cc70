using System.Text.Json;

namespace ExplainCluster.Engine.Data.Images.Transforms;

/// <summary>
/// torchvision's <c>CenterCrop(size)</c>: an integer or [h, w]; the offset is <c>round((side − crop) / 2)</c> with
/// Python's rounding (half to even), and an image smaller than the crop is first padded with zeros, the odd pixel
/// going to the right and bottom, as torchvision does.
/// </summary>
public sealed class CenterCrop(int height, int width) : IImageTransform
{
    public static CenterCrop Read(JsonElement value, string path)
    {
        var size = TransformJson.Integers(value, path, 1, 1, 2);
        return new CenterCrop(size[0], size[^1]);
    }

    public ImageShape ShapeOf(ImageShape input) => input with { Height = height, Width = width };

    public Pixels Apply(Pixels image)
    {
        if (width > image.Width || height > image.Height)
        {
            int Before(int crop, int side) => crop > side ? (crop - side) / 2 : 0;
            int After(int crop, int side) => crop > side ? (crop - side + 1) / 2 : 0;
            image = Pad.Constant(image, Before(width, image.Width), Before(height, image.Height),
                After(width, image.Width), After(height, image.Height), 0);
            if (width == image.Width && height == image.Height) return image;
        }
        var top = (int)Math.Round((image.Height - height) / 2.0, MidpointRounding.ToEven);
        var left = (int)Math.Round((image.Width - width) / 2.0, MidpointRounding.ToEven);
        var c = image.Channels;
        var output = new byte[height * width * c];
        for (var y = 0; y < height; y++)
            Array.Copy(image.Data, ((y + top) * image.Width + left) * c, output, y * width * c, width * c);
        return new Pixels(width, height, c, output);
    }
}
