using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Builds perturbed inputs from coalitions of segments: x · z[segment] + hidden · (1 − z[segment]), the mask
/// broadcast over channels. The hidden values are each segment's per-channel mean (as the lime package's
/// default) or a <see cref="Baseline"/> (zero, a number, blur), all in the model's input space.
/// </summary>
public sealed class SegmentMasker
{
    private readonly Tensor _input;   // [n, C, H·W]
    private readonly Tensor _hidden;  // [n, C, H·W]
    private readonly Tensor _labels;  // [n, H·W] int64
    private readonly long[] _sampleShape;

    /// <param name="hide">The hidden values; <see cref="Baseline.SegmentMean"/> for each segment's mean.</param>
    public SegmentMasker(Tensor input, BatchSegments segments, Baseline hide)
    {
        var (n, height, width) = (segments.Labels.shape[0], segments.Labels.shape[1], segments.Labels.shape[2]);
        if (input.dim() < 3 || input.shape[^2] != height || input.shape[^1] != width || input.shape[0] != n)
            throw new ExplainException(
                $"segments are [{n}, {height}, {width}] but the inputs are [{string.Join(", ", input.shape)}]; lime and kernel-shap need images [n, (channels,) height, width]");
        _sampleShape = [.. input.shape.Skip(1)];
        _input = input.contiguous().view(n, -1, height * width);
        _labels = segments.Labels.view(n, height * width);
        _hidden = hide.Kind == Baseline.SegmentMean ? SegmentMeans(_input, _labels, segments.MaxCount) : hide.For(input).contiguous().view(_input.shape);
    }

    /// <summary>
    /// Rows <paramref name="start"/>.. of the perturbations of <paramref name="coalitions"/> [n, m, K] (row r is
    /// sample r / m's coalition r mod m), shaped as the inputs.
    /// </summary>
    public Tensor Rows(Tensor coalitions, long start, long count)
    {
        var m = coalitions.shape[1];
        var z = coalitions.view(-1, coalitions.shape[2]).narrow(0, start, count);
        var owner = Scalars.Range(start, start + count, ScalarType.Int64, z.device).FloorDivided(m); // rooted Scalars throughout (Scalars)
        var present = z.gather(1, _labels.index_select(0, owner)).unsqueeze(1);
        var hidden = _hidden.index_select(0, owner);
        return hidden.Plus((_input.index_select(0, owner) - hidden) * present).view([count, .. _sampleShape]);
    }

    /// <summary>
    /// The model's target output (logit, or softmax probability) for every coalition of <paramref name="coalitions"/>
    /// [n, m, K]: [n, m]. Masking runs chunk by chunk inside the batched forward, at most <paramref name="maxRows"/> rows at once.
    /// </summary>
    public Tensor Outputs(MethodBatch batch, Tensor coalitions, int maxRows, bool probability)
    {
        var (n, m) = (coalitions.shape[0], coalitions.shape[1]);
        var targets = batch.Targets.repeat_interleave(m);
        return TargetGradients.Outputs(batch.Model, n * m, (start, count) => Rows(coalitions, start, count), targets, maxRows, probability).view(n, m);
    }

    /// <summary>Each pixel replaced by its segment's mean, channel by channel.</summary>
    private static Tensor SegmentMeans(Tensor x, Tensor labels, int segments)
    {
        var (n, channels) = (x.shape[0], x.shape[1]);
        var index = labels.unsqueeze(1).expand(n, channels, -1);
        var sums = zeros([n, channels, segments], x.dtype, x.device).scatter_add_(2, index, x);
        var sizes = zeros([n, segments], x.dtype, x.device).scatter_add_(1, labels, ones_like(labels, x.dtype));
        return (sums / sizes.AtLeast(1).unsqueeze(1)).gather(2, index);
    }
}
