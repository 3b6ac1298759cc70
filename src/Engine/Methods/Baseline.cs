using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// The reference input x′ of integrated gradients, in the model's input space (after preprocessing, as
/// Captum): zero, a constant, or x blurred by a Gaussian of σ pixels (kernel cut at 3σ, edges replicated).
/// Lime and kernel-shap hide segments with one too, or with each segment's mean (<see cref="SegmentMean"/>,
/// which only <see cref="SegmentMasker"/> can compute).
/// </summary>
public sealed record Baseline(string Kind, double Value, double Sigma)
{
    public const string SegmentMean = "mean";

    public static Baseline Zero { get; } = new("zero", 0, 0);

    public Tensor For(Tensor x) => Kind switch
    {
        "blur" => Blur(x, Sigma),
        SegmentMean => throw new InvalidOperationException("the segment-mean baseline needs segments (SegmentMasker)"),
        _ => x.FullLike(Value),
    };

    private static Tensor Blur(Tensor x, double sigma)
    {
        if (x.dim() is not (3 or 4))
            throw new ExplainException($"baseline \"blur\" needs image inputs [n, (channels,) height, width], not [{string.Join(", ", x.shape)}]");
        var image = x.dim() == 3 ? x.unsqueeze(1) : x;
        var channels = image.shape[1];
        var radius = (int)Math.Ceiling(3 * sigma);
        var taps = Enumerable.Range(-radius, 2 * radius + 1).Select(i => Math.Exp(-i * i / (2 * sigma * sigma))).ToArray();
        var kernel = tensor(taps.Select(t => (float)(t / taps.Sum())).ToArray(), device: x.device);
        var padded = nn.functional.pad(image.contiguous(), [radius, radius, radius, radius], TorchSharp.PaddingModes.Replicate);
        var rows = nn.functional.conv2d(padded, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups: channels);
        var blurred = nn.functional.conv2d(rows, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups: channels);
        return x.dim() == 3 ? blurred.squeeze(1) : blurred;
    }
}
