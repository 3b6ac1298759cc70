using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>
/// Per-sample gradients of a layer's parameters from its input a and the gradient g of the summed loss with
/// respect to its output (Opacus' rules): each sample's gradient involves only its own rows of a and g.
/// <list type="bullet">
/// <item>Linear, y = a Wᵀ + b: ∇W = Σₜ gₜ ⊗ aₜ, ∇b = Σₜ gₜ (t over the extra dims of [n, *, in]); for [n, in],
/// ‖∇W‖² = ‖g‖²‖a‖² without forming ∇W.</item>
/// <item>Conv2d (stride, padding, dilation, groups): ∇W per sample and group = g · unfolded inputᵀ, formed as a convolution of the input with g (see <see cref="ConvWeights"/>); ∇b = Σ g over positions.</item>
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
            var gg = g.Squared().sum(1); // rooted Scalars (Scalars)
            var norms = gg * a.Squared().sum(1);
            return Parameter(node, "bias") is null ? norms : norms.Plus(gg);
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
            var positions = g.shape[2] * g.shape[3];
            var working = positions > 16 ? a[0].numel() + g[0].numel() : a.shape[1] * w.shape[2] * w.shape[3] * positions;
            return (2 * working + 4 * parameters) * sizeof(float);
        }
        return (2 * parameters + a[0].numel() + g[0].numel()) * sizeof(float);
    }

    /// <summary>
    /// Per-sample gradients of samples [start, start + count), one tensor [count, …] per parameter in the module's
    /// order, each in its parameter's element order (possibly a strided view: flatten with reshape).
    /// </summary>
    public static IReadOnlyList<Tensor> Rows(ModuleNode node, Tensor a, Tensor g, long start, long count)
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
                grads["weight"] = ConvWeights(leaf, Parameter(node, "weight")!, x, gy);
                grads["bias"] = gy.sum([2, 3]);
                break;
            case LeafConfig.BatchNorm:
            {
                var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
                shape[1] = -1;
                var normalised = (x - node.Buffers["running_mean"].view(shape)) * node.Buffers["running_var"].Plus(leaf.Eps).rsqrt().view(shape);
                var weighted = gy * normalised;
                long[] spatial = [.. Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d)];
                grads["weight"] = spatial.Length == 0 ? weighted : weighted.sum(spatial);
                grads["bias"] = spatial.Length == 0 ? gy : gy.sum(spatial);
                break;
            }
            default:
                throw new InvalidOperationException($"no per-sample rule for {leaf.Kind}");
        }
        return [.. node.Parameters.Select(p => grads[p.Name])];
    }

    /// <summary>
    /// Per-sample ∇W of a convolution [n, O, C/G, kh, kw]. Where the output has more than 16 positions, as a
    /// convolution itself (the way libtorch forms ∇W, one group per sample and conv group): the input as
    /// [C/G, n·G, H, W] correlated with g as n·O kernels [1, Ho, Wo], stride and dilation swapped, cut to kh × kw.
    /// Else from the unfolded input: per group, g [O/G, L] · colsᵀ [L, C/G·kh·kw].
    /// </summary>
    private static Tensor ConvWeights(LeafConfig leaf, Tensor w, Tensor x, Tensor g)
    {
        var (n, groups) = (x.shape[0], leaf.Groups);
        var (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
        var (ho, wo) = (g.shape[2], g.shape[3]);
        if (ho * wo > 16)
        {
            var (h, wi) = (x.shape[2], x.shape[3]);
            var inputs = x.reshape(n, groups, cg, h, wi).permute(2, 0, 1, 3, 4).reshape(cg, n * groups, h, wi);
            var kernels = g.reshape(n * o, 1, ho, wo);
            var full = nn.functional.conv2d(inputs, kernels, null, leaf.Dilation, leaf.Padding, leaf.Stride, n * groups);
            return full.narrow(2, 0, kh).narrow(3, 0, kw).reshape(cg, n, o, kh, kw).permute(1, 2, 0, 3, 4);
        }
        var columns = nn.functional.unfold(x, (kh, kw), (leaf.Dilation[0], leaf.Dilation[1]), (leaf.Padding[0], leaf.Padding[1]), (leaf.Stride[0], leaf.Stride[1]));
        var perGroup = columns.view(n, groups, cg * kh * kw, columns.shape[2]);
        return g.reshape(n, groups, o / groups, ho * wo).matmul(perGroup.transpose(2, 3));
    }

    private static Tensor? Parameter(ModuleNode node, string name) => node.Parameters.FirstOrDefault(p => p.Name == name).Tensor;
}
