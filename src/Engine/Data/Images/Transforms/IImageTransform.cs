namespace ExplainCluster.Engine.Data.Images.Transforms;

/// <summary>One of torchvision's transforms on a PIL image, before <c>toTensor</c>: what size it gives, and the pixels.</summary>
public interface IImageTransform
{
    /// <summary>The image shape this transform gives for <paramref name="input"/>, without the pixels (from a header).</summary>
    ImageShape ShapeOf(ImageShape input);

    Pixels Apply(Pixels image);
}

/// <summary>An image's channels, height and width.</summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    public static ImageShape Of(Pixels image) => new(image.Channels, image.Height, image.Width);

    public long Elements => (long)Channels * Height * Width;

    public override string ToString() => $"{Width}x{Height}x{Channels}";
}
