using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>
/// Per-sample gradients of a layer's parameters from its input a and the gradient g of the summed loss with
/// respect to its output (Opacus' rules): each sample's gradient involves only its own rows of a and g.
/// <list type="bullet">
/// <item>Linear, y = a Wᵀ + b: ∇W = Σₜ gₜ ⊗ aₜ, ∇b = Σₜ gₜ (t over the extra dims of [n, *, in]); for [n, in],
/// ‖∇W‖² = ‖g‖²‖a‖² without forming ∇W.</item>
/// <item>Conv2d: a unfolded to columns [n, C·kh·kw, L] (stride, padding, dilation), per group ∇W = g·colsᵀ, ∇b = Σ_L g.</item>
/// <item>BatchNorm (eval), y = γ x̂ + β with x̂ from the running statistics: ∇γ = Σ g·x̂, ∇β = Σ g over all but the channel dim.</item>
/// </list>
/// </summary>
internal static class PerSampleRules
{
    public static bool Handles(LeafConfig? leaf) => leaf?.Kind is LeafConfig.Linear or LeafConfig.Conv2d or LeafConfig.BatchNorm;

    /// <summary>Each sample's squared norm of the whole layer gradient [n] without forming it, or null where forming it is the way.</summary>
    public static Tensor? SquaredNorms(ModuleNode node, Tensor a, Tensor g)
    {
        if (node.Leaf!.Kind == LeafConfig.Linear && a.dim() == 2)
        {
            var gg = g.square().sum(1);
            var norms = gg * a.square().sum(1);
            return Parameter(node, "bias") is null ? norms : norms + gg;
        }
        return null;
    }

    /// <summary>Bytes one sample's rows take while <see cref="Rows"/> forms them (working tensors included).</summary>
    public static long BytesPerSample(ModuleNode node, Tensor a, Tensor g)
    {
        var parameters = node.Parameters.Sum(p => p.Tensor.numel());
        if (node.Leaf!.Kind == LeafConfig.Conv2d)
        {
            var w = Parameter(node, "weight")!;
            var kernel = w.shape[2] * w.shape[3];
            var columns = a.shape[1] * kernel * (g.shape[2] * g.shape[3]);
            return (2 * columns + 2 * parameters) * sizeof(float);
        }
        return (2 * parameters + a[0].numel() + g[0].numel()) * sizeof(float);
    }

    /// <summary>Per-sample gradients of samples [start, start + count): [count, P], parameters in the module's order, each flattened.</summary>
    public static Tensor Rows(ModuleNode node, Tensor a, Tensor g, long start, long count)
    {
        var x = a.narrow(0, start, count);
        var gy = g.narrow(0, start, count);
        var leaf = node.Leaf!;
        var grads = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        switch (leaf.Kind)
        {
            case LeafConfig.Linear:
            {
                var inputs = x.reshape(count, -1, x.shape[^1]);
                var outputs = gy.reshape(count, -1, gy.shape[^1]);
                grads["weight"] = outputs.transpose(1, 2).matmul(inputs);
                grads["bias"] = outputs.sum(1);
                break;
            }
            case LeafConfig.Conv2d:
            {
                var w = Parameter(node, "weight")!;
                var (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
                var groups = leaf.Groups;
                var columns = nn.functional.unfold(x, (kh, kw), (leaf.Dilation[0], leaf.Dilation[1]), (leaf.Padding[0], leaf.Padding[1]), (leaf.Stride[0], leaf.Stride[1]));
                var l = columns.shape[2];
                var perGroup = columns.view(count, groups, cg * kh * kw, l);
                var outputs = gy.reshape(count, groups, o / groups, l);
                grads["weight"] = outputs.matmul(perGroup.transpose(2, 3));
                grads["bias"] = gy.sum([2, 3]);
                break;
            }
            case LeafConfig.BatchNorm:
            {
                var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
                shape[1] = -1;
                var normalised = (x - node.Buffers["running_mean"].view(shape)) * (node.Buffers["running_var"] + leaf.Eps).rsqrt().view(shape);
                var weighted = gy * normalised;
                long[] spatial = [.. Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d)];
                grads["weight"] = spatial.Length == 0 ? weighted : weighted.sum(spatial);
                grads["bias"] = spatial.Length == 0 ? gy : gy.sum(spatial);
                break;
            }
            default:
                throw new InvalidOperationException($"no per-sample rule for {leaf.Kind}");
        }
        return cat(node.Parameters.Select(p => grads[p.Name].reshape(count, -1)).ToList(), 1);
    }

    private static Tensor? Parameter(ModuleNode node, string name) => node.Parameters.FirstOrDefault(p => p.Name == name).Tensor;
}
