using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// One explanation method: turns a batch into per-sample attribution maps [n, ...] and, optionally, per-sample
/// columns. A method owns its passes: the gradient methods read the batch's one shared forward/backward, the
/// others (integrated gradients, smooth-grad) run their own through the shared pieces in this folder.
/// </summary>
public interface IAttributionMethod
{
    string Name { get; }

    /// <summary>The layer this method needs split out of the model, if any.</summary>
    string? Layer => null;

    /// <summary>
    /// Whether its attributions are gradients with respect to the input (saliency, grad-x-input, integrated gradients,
    /// smooth-grad): a table's index-encoded feature has none (a level's index is cast to an integer), so a table job refuses them there.
    /// </summary>
    bool DifferentiatesInput => false;

    /// <summary>Whether it reads the batch's shared gradients (<see cref="GradientBatch.InputGrad"/>, <see cref="GradientBatch.FeatureGrad"/>).</summary>
    bool UsesSharedGradients => true;

    /// <summary>Whether it switches image segments on and off (lime, kernel-shap): the batch then carries <see cref="MethodBatch.Segments"/>.</summary>
    bool UsesSegments => false;

    /// <summary>The per-sample columns it adds to the parquet part (snake_case), in the order of <see cref="MethodOutput.Columns"/>.</summary>
    IReadOnlyList<string> Columns => [];

    /// <summary>
    /// Whether its maps lie over the input's pixels (input-shaped, a layer's grid, or [H, W]): only such maps are
    /// scored for faithfulness, checked for sanity and drawn over images. Param-grads' per-layer norms are not.
    /// </summary>
    bool MapsPixels => true;

    /// <summary>
    /// Further per-sample arrays it writes beside its maps, each under its own name as if another method's
    /// (<c>attributions/&lt;name&gt;/</c>, summary statistics included), in the order of <see cref="MethodOutput.Extra"/>.
    /// </summary>
    IReadOnlyList<string> ExtraMaps => [];

    /// <summary>
    /// The data sample its background rows come from (a table's kernel-shap, permutation-shap, lime), chosen in the selection
    /// pass; every shard receives all of it (<see cref="MethodBatch.Background"/>). Null for a method that needs none.
    /// </summary>
    Subset? Background => null;

    /// <summary>
    /// How its background sample is summarised before use: its k-means centroids weighted by cluster size
    /// (<see cref="MethodBatch.BackgroundWeights"/>); null to use the rows themselves, equally weighted.
    /// </summary>
    KMeansBackground? BackgroundSummary => null;

    /// <summary>The seed its random draws start from (each sample's from this seed and its dataset index); null for a method that draws nothing.</summary>
    long? Seed => null;

    MethodOutput Attribute(MethodBatch batch);
}

/// <summary>A method that attributes any input to given targets on its own, so smooth-grad can run it on noisy copies.</summary>
public interface IInputAttribution
{
    /// <param name="x">Inputs as the model takes them, [m, ...].</param>
    /// <param name="targets">[m] int64: the class each row is explained for.</param>
    Tensor AttributeAt(MethodBatch batch, Tensor x, Tensor targets);
}

/// <summary>Maps [n, ...], one [n] tensor per column the method declares, and one [n, ...] per extra map it declares.</summary>
public sealed record MethodOutput(Tensor Maps, IReadOnlyList<Tensor> Columns, IReadOnlyList<Tensor>? Extra = null)
{
    public static implicit operator MethodOutput(Tensor maps) => new(maps, []);
}

/// <summary>What a method may use for one batch: the model, the shared pass, and each row's dataset index (for seeds).</summary>
/// <param name="labels">[n] int64, the batch's labels when the job has them.</param>
/// <param name="features">A table's features over the model's vector; null for arrays and images.</param>
/// <param name="background">The method's background rows [B, W] as the model takes them (<see cref="IAttributionMethod.Background"/>).</param>
/// <param name="backgroundWeights">[B] float64 summing to 1: each background row's weight (a k-means summary's); null: equal weights.</param>
public sealed class MethodBatch(ExplainCluster.Engine.Models.ExplainModel model, GradientBatch shared, long[] indices, int maxRows, BatchSegments? segments = null,
    Tensor? labels = null, Data.Tables.FeatureGroups? features = null, Tensor? background = null, Tensor? backgroundWeights = null)
{
    public ExplainCluster.Engine.Models.ExplainModel Model => model;

    public GradientBatch Shared => shared;

    /// <summary>The preprocessed batch [n, ...], as the model takes it.</summary>
    public Tensor Input => shared.Input;

    /// <summary>[n] int64.</summary>
    public Tensor Targets => shared.Targets;

    /// <summary>The dataset index of each row: random methods seed each sample from it, so sharding changes nothing.</summary>
    public IReadOnlyList<long> Indices => indices;

    /// <summary>The most rows a method's own forward/backward passes may take at once (the job's batch size unless the method says).</summary>
    public int MaxRows => maxRows;

    /// <summary>The batch's segments when a method of the job uses them; null otherwise.</summary>
    public BatchSegments? Segments => segments;

    /// <summary>[n] int64 labels on the model's device when the job has labels; null otherwise.</summary>
    public Tensor? Labels => labels;

    /// <summary>A table's features over the model's vector; null for arrays and images.</summary>
    public Data.Tables.FeatureGroups? Features => features;

    /// <summary>The method's background rows [B, W] on the model's device, when it declares <see cref="IAttributionMethod.Background"/>.</summary>
    public Tensor? Background => background;

    /// <summary>[B] float64 summing to 1, each background row's weight, on the model's device; null when the rows weigh the same.</summary>
    public Tensor? BackgroundWeights => backgroundWeights;

    /// <summary>The same batch with a method's background rows (and their weights, when they differ).</summary>
    public MethodBatch WithBackground(Tensor rows, Tensor? weights = null) => new(model, shared, indices, maxRows, segments, labels, features, rows, weights);

    /// <summary>The same batch with another budget of rows a pass (<see cref="MaxRows"/>).</summary>
    public MethodBatch WithMaxRows(int rows) => new(model, shared, indices, rows, segments, labels, features, background, backgroundWeights);

    /// <summary>The rows at <paramref name="rows"/> (positions in this batch) as a batch of their own: a method's subset.</summary>
    public MethodBatch Select(int[] rows)
    {
        var index = tensor(rows.Select(r => (long)r).ToArray(), device: Input.device);
        return new MethodBatch(model, shared.Select(index), [.. rows.Select(r => indices[r])], maxRows,
            segments is null ? null : new BatchSegments(segments.Labels.index_select(0, index), [.. rows.Select(r => segments.Counts[r])]),
            labels?.index_select(0, index), features, background, backgroundWeights);
    }
}

/// <summary>Each row's segment ids, [n, H, W] int64 on the model's device (ids 0..k−1), and each row's k.</summary>
public sealed record BatchSegments(Tensor Labels, int[] Counts)
{
    /// <summary>The batch's largest k: coalitions are padded to it with absent features.</summary>
    public int MaxCount => Counts.Max();

    /// <summary>Each pixel given its segment's value: [n, K] values → [n, H, W] float32 maps.</summary>
    public Tensor Paint(Tensor values) => values.gather(1, Labels.flatten(1)).view(Labels.shape).to(ScalarType.Float32);

    /// <summary>[n, K] 1 where feature j is padding (j ≥ k of its sample), else 0, as <paramref name="dtype"/>.</summary>
    public Tensor Absent(ScalarType dtype = ScalarType.Float64) =>
        (Scalars.Range(0, MaxCount, device: Labels.device).unsqueeze(0) >= CountTensor().unsqueeze(1)).to(dtype); // rooted Scalars (Scalars)

    /// <summary>Each row's k, [n] int64 on the labels' device.</summary>
    public Tensor CountTensor() => tensor(Counts.Select(c => (long)c).ToArray(), device: Labels.device);
}
