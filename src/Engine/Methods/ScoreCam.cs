using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Score-CAM (Wang et al. 2020, as pytorch-grad-cam 1.5.5): each channel A_k upsampled to the input (bilinear,
/// corners aligned, as its UpsamplingBilinear2d), min-max scaled to [0, 1] (+10⁻⁸), multiplies the input; the
/// target's logit on that masked input is the channel's score, and w = softmax over channels of the scores.
/// The n × K masked inputs run through the model in chunks of the row budget, built chunk by chunk; no gradients.
/// </summary>
public sealed class ScoreCam(string layer, int? maxRows) : ChannelWeightedCam(layer)
{
    public const string MethodName = "score-cam";

    public override string Name => MethodName;

    public override bool UsesSharedGradients => false;

    protected override Tensor Weights(MethodBatch batch, Tensor activations, Tensor? gradients)
    {
        var x = batch.Input;
        if (x.dim() != 4)
            throw new ExplainException($"{Name} needs image inputs [n, channels, height, width]; the model takes [{string.Join(", ", x.shape)}]");
        var (n, k) = (activations.shape[0], activations.shape[1]);
        var size = new[] { x.shape[2], x.shape[3] };
        var channels = activations.flatten(0, 1).unsqueeze(1);
        Tensor Masked(long start, long count)
        {
            var up = nn.functional.interpolate(channels.narrow(0, start, count), size, mode: InterpolationMode.Bilinear, align_corners: true);
            var (low, high) = (up.amin([2, 3], keepdim: true), up.amax([2, 3], keepdim: true));
            var sample = Scalars.Range(start, start + count, ScalarType.Int64, x.device).FloorDivided(k); // rooted Scalars (Scalars)
            return x.index_select(0, sample) * ((up - low) / (high - low).Plus(1e-8));
        }
        var scores = TargetGradients.Outputs(batch.Model, n * k, Masked, batch.Targets.repeat_interleave(k), maxRows ?? batch.MaxRows);
        return nn.functional.softmax(scores.view(n, k), 1);
    }
}
