using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// Attention rollout (Abnar and Zuidema 2020, as vit-explain computes it) for a transformer that exports
/// <c>attention_maps(x) -> List[Tensor]</c>, [n, heads, tokens, tokens] per block. Each block's heads are fused
/// (mean, max or min), its lowest <c>discard</c> fraction of weights dropped (never the class token's own), the
/// identity added for the residual and the rows re-normalised: Â = (A + I) / row sums. The rollout is
/// Â_L · … · Â_1; the map is its class-token row (token 0) over the patch tokens 1.., as the square patch grid
/// [n, g, g] (tokens = 1 + g²), not normalised. Needs no gradients; the grid is upsampled over the pixels for
/// faithfulness as Grad-CAM's is.
/// </summary>
public sealed class AttentionRollout(string heads, double discard, int? maxRows) : IAttributionMethod
{
    public const string MethodName = "attention-rollout";

    public static readonly string[] HeadFusions = ["mean", "max", "min"];

    public string Name => MethodName;

    public bool UsesSharedGradients => false;

    public MethodOutput Attribute(MethodBatch batch)
    {
        var n = batch.Input.shape[0];
        var rows = maxRows ?? batch.MaxRows;
        var maps = new List<Tensor>();
        using var noGrad = no_grad();
        for (long first = 0; first < n; first += rows)
        {
            var x = batch.Input.narrow(0, first, Math.Min(rows, n - first));
            maps.Add(Map(Rollout(batch.Model.AttentionMaps(x), batch.Model.Location)));
        }
        return maps.Count == 1 ? maps[0] : cat(maps, 0);
    }

    /// <summary>Â_L · … · Â_1, [n, tokens, tokens] float32; each row sums to 1.</summary>
    public Tensor Rollout(IReadOnlyList<Tensor> layers, string model)
    {
        if (layers.Count == 0) throw new ExplainException($"model {model} returned no layers from attention_maps(x)");
        var shape = layers[0].shape;
        foreach (var a in layers)
            if (a.dim() != 4 || a.shape[2] != a.shape[3] || a.shape[0] != shape[0] || a.shape[2] != shape[2])
                throw new ExplainException(
                    $"model {model} returned attention of shape [{string.Join(", ", a.shape)}] from attention_maps(x); expected [n, heads, tokens, tokens] for every layer, the same n and tokens");
        var tokens = shape[2];
        var identity = eye(tokens, dtype: ScalarType.Float32, device: layers[0].device);
        Tensor? rollout = null;
        foreach (var a in layers)
        {
            var fused = Fuse(a.to(ScalarType.Float32));
            if (discard > 0) fused = Discard(fused);
            var residual = fused.Plus(identity); // rooted alpha (Scalars)
            residual /= residual.sum(-1, keepdim: true);
            rollout = rollout is null ? residual : residual.matmul(rollout);
        }
        return rollout!;
    }

    /// <summary>The class-token row of the rollout over the patch tokens, as the square grid [n, g, g].</summary>
    public static Tensor Map(Tensor rollout)
    {
        var patches = rollout.shape[1] - 1;
        var side = (long)Math.Round(Math.Sqrt(patches));
        if (patches < 1 || side * side != patches)
            throw new ExplainException(
                $"attention-rollout: {rollout.shape[1]} tokens are not a class token and a square grid of patches (tokens = 1 + g²); models with other extra tokens are not supported");
        return rollout[.., 0, 1..].reshape(rollout.shape[0], side, side);
    }

    private Tensor Fuse(Tensor a) => heads switch
    {
        "max" => a.amax([1]),
        "min" => a.amin([1]),
        _ => a.mean([1]),
    };

    /// <summary>Zeroes each sample's lowest <c>discard</c> fraction of weights, keeping the class token's attention to itself (vit-explain).</summary>
    private Tensor Discard(Tensor fused)
    {
        var flat = fused.flatten(1);
        var k = (long)(flat.shape[1] * discard);
        if (k == 0) return fused;
        var drop = zeros_like(flat).scatter_(1, flat.topk((int)k, 1, largest: false).indexes, ones_like(flat));
        drop[.., 0] = 0;
        return (flat * drop.OneMinus()).view_as(fused);
    }
}
