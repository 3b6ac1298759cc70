using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Data.Images.Transforms;

/// <summary>
/// torchvision's <c>Grayscale(num_output_channels)</c>: PIL's <c>convert("L")</c>, L = (19595 R + 38470 G + 7471 B + 2^15) >> 16
/// (Pillow's Convert.c), then 1 channel or the same value in 3.
/// </summary>
public sealed class Grayscale(int channels) : IImageTransform
{
    public static Grayscale Read(System.Text.Json.JsonElement value, string path)
    {
        var options = new OptionsReader(value.ValueKind == System.Text.Json.JsonValueKind.Object ? value
            : throw new ExplainException($"{path}: expected an object"), path + ".");
        var channels = options.Integer("numOutputChannels", 1, 1, 3);
        if (channels == 2) throw new ExplainException($"{path}.numOutputChannels: expected 1 or 3");
        options.RejectUnread();
        return new Grayscale(channels);
    }

    public ImageShape ShapeOf(ImageShape input) => input with { Channels = channels };

    public Pixels Apply(Pixels image)
    {
        var pixels = image.Width * image.Height;
        var output = new byte[pixels * channels];
        for (var i = 0; i < pixels; i++)
        {
            var l = image.Channels == 1 ? image.Data[i]
                : (byte)((image.Data[i * image.Channels] * 19595 + image.Data[i * image.Channels + 1] * 38470
                    + image.Data[i * image.Channels + 2] * 7471 + 0x8000) >> 16);
            for (var c = 0; c < channels; c++) output[i * channels + c] = l;
        }
        return new Pixels(image.Width, image.Height, channels, output);
    }
}
