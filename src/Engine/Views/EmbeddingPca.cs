using ExplainCluster.Engine.Stats;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The embedding view's exact PCA: from Σ x and Σ x xᵀ over every sample, the mean and the covariance
/// (Σ x xᵀ − n μ μᵀ)/n, and its top eigenvectors; each sample's coordinates (x − μ)·componentᵢ come from the post pass.
/// </summary>
public sealed record EmbeddingPca(string Layer, long Samples, double[] Mean, double[][] Components, double[] Variance, double[] Explained)
{
    public static EmbeddingPca Of(EmbeddingPartial sums, int dims)
    {
        var d = sums.Sum.Length;
        var n = sums.Count;
        var mean = sums.Sum.Select(v => v / n).ToArray();
        var covariance = new double[d, d];
        for (var a = 0; a < d; a++)
            for (var b = 0; b < d; b++) covariance[a, b] = (sums.Cross[a * d + b] - n * mean[a] * mean[b]) / n;
        var total = Enumerable.Range(0, d).Sum(a => covariance[a, a]);
        var m = Math.Min(dims, d);
        var (values, vectors) = ActivationStatistics.TopEigen(covariance, m);
        return new EmbeddingPca(sums.Layer, n, mean, vectors, values, [.. values.Select(v => total > 0 ? Math.Max(v, 0) / total : 0)]);
    }

    public static EmbeddingPartial Add(EmbeddingPartial? total, EmbeddingPartial part)
    {
        if (total is null) return part with { Sum = (double[])part.Sum.Clone(), Cross = (double[])part.Cross.Clone() };
        if (total.Layer != part.Layer || total.Sum.Length != part.Sum.Length) throw new ArgumentException("embedding partials of different layers", nameof(part));
        for (var j = 0; j < part.Sum.Length; j++) total.Sum[j] += part.Sum[j];
        for (var j = 0; j < part.Cross.Length; j++) total.Cross[j] += part.Cross[j];
        return total with
        {
            Count = total.Count + part.Count,
            SubsetIndex = [.. total.SubsetIndex ?? [], .. part.SubsetIndex ?? []],
            SubsetLabels = [.. total.SubsetLabels ?? [], .. part.SubsetLabels ?? []],
            SubsetFeatures = [.. total.SubsetFeatures ?? [], .. part.SubsetFeatures ?? []],
            SubsetStrata = [.. total.SubsetStrata ?? [], .. part.SubsetStrata ?? []],
        };
    }

    /// <summary>The basis a post attempt projects with; <paramref name="explainAttempt"/> is where its shard's files are staged.</summary>
    public EmbeddingBasis Basis(int explainAttempt) =>
        new(Layer, Mean, [.. Components.SelectMany(c => c)], Components.Length, explainAttempt);
}

/// <summary>
/// The label vote: on the stratified subset, each sample's k nearest other subset samples in the embedding's full
/// feature space (Euclidean; ties by dataset index) and the share of them with its label. A low share marks a sample
/// that sits among another class: a candidate label error.
/// </summary>
public static class LabelVote
{
    /// <returns>Per sample, in the order given: the share of its neighbours with its label, and their most common label (ties to the lower).</returns>
    public static (double[] Agreement, long[] Majority) Of(long[] index, long[] labels, float[] features, int k)
    {
        var m = index.Length;
        var d = m == 0 ? 0 : features.Length / m;
        var agreement = new double[m];
        var majority = new long[m];
        var neighbours = Math.Min(k, m - 1);
        for (var i = 0; i < m; i++)
        {
            if (neighbours <= 0) continue;
            var nearest = Enumerable.Range(0, m).Where(j => j != i)
                .Select(j =>
                {
                    double distance = 0;
                    for (var c = 0; c < d; c++)
                    {
                        var diff = (double)features[i * d + c] - features[j * d + c];
                        distance += diff * diff;
                    }
                    return (j, distance);
                })
                .OrderBy(p => p.distance).ThenBy(p => index[p.j]).Take(neighbours).ToArray();
            agreement[i] = (double)nearest.Count(p => labels[p.j] == labels[i]) / neighbours;
            majority[i] = nearest.GroupBy(p => labels[p.j]).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).First().Key;
        }
        return (agreement, majority);
    }
}

/// <summary>A subset sample whose neighbours mostly disagree with its label.</summary>
public sealed record Disagreement(long Index, long Label, long NeighboursSay, double Agreement);

/// <summary>summary.json's <c>views.embedding.knn</c>: the vote's k, subset size, mean agreement, the samples with the lowest, and the per-sample arrays.</summary>
/// <param name="Agreement">The mean agreement over the dataset: the stratified subset's reweighted to the dataset's strata
/// (target class × correct; the subset over-represents errors, whose neighbours agree less), with its interval and n.</param>
public sealed record KnnVote(int K, int Samples, double MeanAgreement, Disagreement[] Lowest, string IndexFile, string AgreementFile, Estimate? Agreement = null);

/// <summary>summary.json's <c>views.embedding</c>: the layer, how many samples, and the variance (and share of it) each component explains; coordinates in <c>embedding/part-NNNNN.npy</c>.</summary>
/// <param name="Features">What each sample's row is at the layer, in words (<see cref="ModelTaps.Describe"/>): the pre-logits features, a pooled output, a flattened one.</param>
public sealed record EmbeddingView(string Layer, long Samples, int Dims, double[] Variance, double[] Explained, KnnVote? Knn = null, string? Features = null);
