using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// Which channels of the Grad-CAM layer to visualise. The intended importance is the class-mean Grad-CAM weight
/// ᾱ_k = mean over a class's real inputs of α_k = mean_p ∂y_c/∂A[k, p]: the channels that most raise the class's
/// Grad-CAM map (signed: a negative α_k lowers the map before its ReLU). The mean |activation| is a class-free
/// alternative. Either feeds <see cref="Top"/>.
/// </summary>
public static class ChannelImportance
{
    /// <summary>ᾱ_k [K]: the mean over the rows of <paramref name="inputs"/> (model input space) of Grad-CAM's α_k for <paramref name="targets"/>.</summary>
    public static float[] GradCamWeights(ExplainModel model, string layer, Tensor inputs, Tensor targets, int maxRows = 256) =>
        Mean(model, layer, inputs, maxRows, (chunk, from, count) =>
        {
            var batch = GradientBatch.Compute(model, chunk, targets.narrow(0, from, count).to(model.Device), model.Split(layer), needGradients: true);
            return Flat(batch.FeatureGrad!).mean([2]).sum([0]);
        });

    /// <summary>The mean |A_k| [K] over the rows and positions of <paramref name="inputs"/> (model input space).</summary>
    public static float[] MeanAbsActivation(ExplainModel model, string layer, Tensor inputs, int maxRows = 256) =>
        Mean(model, layer, inputs, maxRows, (chunk, _, _) =>
        {
            using var noGrad = no_grad();
            var split = model.Split(layer);
            model.VerifySplit(split, chunk.narrow(0, 0, 1));
            return Flat(model.Invoke(chunk, () => split.Features(chunk))).abs().mean([2]).sum([0]);
        });

    /// <summary>The <paramref name="k"/> largest entries' indices, largest first; ties to the lower index.</summary>
    public static int[] Top(IReadOnlyList<float> importance, int k) =>
        [.. Enumerable.Range(0, importance.Count).OrderByDescending(i => importance[i]).ThenBy(i => i).Take(k)];

    private static Tensor Flat(Tensor a) => a.dim() == 2 ? a.unsqueeze(2) : a.flatten(2);

    private static float[] Mean(ExplainModel model, string layer, Tensor inputs, int maxRows, Func<Tensor, long, long, Tensor> perChunk)
    {
        using var scope = NewDisposeScope();
        var rows = inputs.shape[0];
        if (rows == 0) throw new ExplainException($"channel importance at layer \"{layer}\" needs at least one input");
        Tensor? sum = null;
        for (long from = 0; from < rows; from += maxRows)
        {
            using var chunkScope = NewDisposeScope();
            var count = Math.Min(maxRows, rows - from);
            var part = perChunk(model.PrepareInput(inputs.narrow(0, from, count)), from, count);
            sum = sum is null ? part.MoveToOuterDisposeScope() : sum.Accumulate(part); // rooted Scalars (Scalars)
        }
        return sum!.DividedBy(rows).cpu().data<float>().ToArray();
    }
}
