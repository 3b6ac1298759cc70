using static TorchSharp.torch;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>
/// A map as one score per input pixel, [n, H, W]: input-shaped maps [n, C, H, W] summed over channels,
/// [n, H, W] maps as they are, and maps at another resolution (Grad-CAM's layer) upsampled bilinearly
/// (align_corners false) to H × W.
/// </summary>
public static class PixelScores
{
    /// <param name="maps">A method's maps, [n, C, h, w] or [n, h, w].</param>
    /// <param name="input">The batch as the model takes it, [n, C, H, W] or [n, H, W].</param>
    public static Tensor For(Tensor maps, Tensor input)
    {
        if (input.dim() is not (3 or 4))
            throw new ExplainException($"faithfulness needs image inputs [n, (channels,) height, width], not [{string.Join(", ", input.shape)}]");
        var scores = maps.dim() switch
        {
            4 => maps.sum(1),
            3 => maps,
            _ => throw new ExplainException($"faithfulness: maps of shape [{string.Join(", ", maps.shape)}] have no pixels to order"),
        };
        var (height, width) = (input.shape[^2], input.shape[^1]);
        if (scores.shape[1] == height && scores.shape[2] == width) return scores.to(float32);
        return nn.functional.interpolate(scores.to(float32).unsqueeze(1), [height, width], mode: InterpolationMode.Bilinear, align_corners: false)
            .squeeze(1);
    }
}
