namespace ExplainCluster.Engine.Data.Images;

/// <summary>An 8-bit image, rows of pixels with their channels interleaved (height × width × channels), as PIL holds it.</summary>
public sealed record Pixels(int Width, int Height, int Channels, byte[] Data)
{
    public byte this[int y, int x, int c] => Data[(y * Width + x) * Channels + c];

    /// <summary>Channels first, as float (0–255): the layout a model receives (toTensor before its division by 255).</summary>
    public void CopyPlanarTo(Span<float> destination)
    {
        var plane = Width * Height;
        for (var c = 0; c < Channels; c++)
            for (var i = 0; i < plane; i++)
                destination[c * plane + i] = Data[i * Channels + c];
    }
}
