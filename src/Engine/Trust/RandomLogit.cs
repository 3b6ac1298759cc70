using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// Random-logit (Sixt et al. 2020; Quantus' RandomLogit): the similarity of the map for a random other class to the map
/// for the target. The other class is uniform over the C − 1 classes that are not the target, drawn per sample from
/// (seed, dataset index): c = (t + 1 + u mod (C − 1)) mod C. Similarity is SSIM as the sanity check computes it
/// (<see cref="Sanity.SanityCheck.Ssim"/>: per-pixel scores |map| summed over channels, each min-max scaled, scikit-image's
/// defaults), where Quantus takes the raw maps over their joint range: a map that does not depend on the class scores 1,
/// and a low score says the map is class-specific. A one-class model gives NaN.
/// </summary>
public static class RandomLogit
{
    /// <summary>The random other class of each row.</summary>
    public static long[] OtherClasses(IReadOnlyList<long> indices, long[] targets, int classes, long seed) =>
        [.. targets.Select((t, i) => (t + 1 + (long)(TrustSeeds.For(seed, indices[i], TrustSeeds.RandomLogit) % (ulong)(classes - 1))) % classes)];

    /// <param name="maps">The method's maps of <paramref name="batch"/>'s rows, for their targets.</param>
    public static double[] Compute(MethodRerun run, MethodBatch batch, Tensor maps, int classes, long seed)
    {
        var x = batch.Input;
        var n = (int)x.shape[0];
        var similarity = new double[n];
        if (classes < 2)
        {
            Array.Fill(similarity, double.NaN);
            return similarity;
        }
        using var scope = NewDisposeScope();
        var other = OtherClasses(batch.Indices, batch.Targets.cpu().data<long>().ToArray(), classes, seed);
        var (height, width) = ((int)x.shape[^2], (int)x.shape[^1]);
        for (var first = 0; first < n; first += batch.MaxRows)
        {
            var count = Math.Min(batch.MaxRows, n - first);
            using var chunk = NewDisposeScope();
            var rows = Enumerable.Range(first, count).ToArray();
            var input = x.narrow(0, first, count);
            var otherMaps = run.Maps(batch, rows, input, tensor(other.AsSpan(first, count).ToArray(), device: x.device));
            float[] Scores(Tensor m) => PixelScores.For(m.abs(), input).contiguous().cpu().data<float>().ToArray();
            Sanity.SanityCheck.Ssim(Scores(maps.narrow(0, first, count)), Scores(otherMaps), count, height, width).CopyTo(similarity, first);
        }
        return similarity;
    }
}
