using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Ablation-CAM (Desai and Ramaswamy 2020, as pytorch-grad-cam 1.5.5 with all channels ablated): the layer's
/// activations with channel k replaced run through the rest of the model; with y the target's logit and s_k
/// that with channel k ablated, w_k = (y − s_k) / y. A channel is ablated to 0 when the sample's activations'
/// minimum is 0 (a ReLU's output, the usual case), else to that minimum − 10⁷. (pytorch-grad-cam's
/// AblationLayer takes the minimum of the batch it has already ablated, so in that second case each further
/// channel of a batch goes 10⁷ lower; here every channel gets the sample's own value.) The n × K ablated
/// copies run through the head in chunks of the row budget; no gradients.
/// </summary>
public sealed class AblationCam(string layer, int? maxRows) : ChannelWeightedCam(layer)
{
    public const string MethodName = "ablation-cam";

    private const double AblationValue = 1e7;

    public override string Name => MethodName;

    public override bool UsesSharedGradients => false;

    protected override Tensor Weights(MethodBatch batch, Tensor activations, Tensor? gradients)
    {
        var model = batch.Model;
        var split = model.Split(Layer!);
        var (n, k) = (activations.shape[0], activations.shape[1]);
        var low = activations.flatten(1).amin([1]);
        var ablated = where(low.IsZero(), zeros_like(low), low.Minus(AblationValue)).view(n, 1, 1, 1); // rooted Scalars throughout (Scalars)
        Tensor Ablated(long start, long count)
        {
            var rows = Scalars.Range(start, start + count, ScalarType.Int64, activations.device);
            var (sample, channel) = (rows.FloorDivided(k), rows.Modulo(k));
            var hit = nn.functional.one_hot(channel, k).to(ScalarType.Bool).view(count, k, 1, 1);
            return where(hit, ablated.index_select(0, sample), activations.index_select(0, sample));
        }
        var scores = TargetGradients.Outputs(model, n * k, Ablated, batch.Targets.repeat_interleave(k), maxRows ?? batch.MaxRows,
            forward: f => model.Invoke(f, () => split.Head(f))).view(n, k);
        var y = batch.Shared.Logits.gather(1, batch.Targets.unsqueeze(1));
        return (y - scores) / y;
    }
}
