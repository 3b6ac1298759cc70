using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// A shard's part of the job's global views: what rides on each batch's shared pass (activations, the Grad-CAM
/// layer's channel weights for maximisation) and what runs once the batches are done (weights, pruning's first pass).
/// </summary>
public sealed class ShardViews
{
    private readonly JobPlan _plan;
    private readonly ActivationRecorder? _activations;
    private readonly string? _embedding;
    private readonly bool _channelWeights;
    private double[]? _channelWeightSums;
    private (long Count, double[] Sum, double[] Cross)? _embedded;
    private readonly IReadOnlySet<long>? _knn;
    private readonly List<(long Index, long Label, float[] Features)> _voters = [];

    private ShardViews(JobPlan plan, ActivationCapture? capture, ActivationRecorder? activations, string? embedding, bool channelWeights, IReadOnlySet<long>? knn)
    {
        (_plan, Capture, _activations, _embedding, _channelWeights, _knn) = (plan, capture, activations, embedding, channelWeights, knn);
    }

    /// <summary>The widest embedding: its Σ x xᵀ is this squared, in doubles, per shard (32 MB at 2048).</summary>
    public const int MaxEmbeddingFeatures = 2048;

    /// <summary>The layers the shared pass must keep (activations, the embedding's layer); null when none.</summary>
    public ActivationCapture? Capture { get; }

    /// <summary>Null when the job has no views.</summary>
    /// <param name="knn">This shard's part of the embedding's label-vote subset (dataset indices), when it has one.</param>
    /// <param name="probe">One input row [1, ...] on the model's device: counts a timm-convention model's stages.</param>
    public static ShardViews? For(ExplainModel model, JobPlan plan, Func<Tensor> probe, IReadOnlySet<long>? knn = null)
    {
        var job = plan.Job;
        if (job.Views is not { Length: > 0 }) return null;
        var maximisation = plan.Maximisation;
        // By default every stage of a timm-convention model (else its forward_features), every top-level child of others.
        var activations = plan.Activations is { } view
            ? ModelTaps.Checked(model, view.Layers ?? ModelTaps.DefaultActivations(model, probe), probe, "views.activations.layers")
            : null;
        var embedding = EmbeddingLayer(model, plan, probe);
        string[] taken = [.. (activations ?? []).Concat(embedding is null ? [] : [embedding]).Distinct()];
        var field = activations?.Any(l => !ModelTaps.IsExported(model, l)) == true ? "views.activations.layers" : "views.embedding.layer";
        var capture = taken.Length == 0 ? null : new ActivationCapture(taken, field);
        return new ShardViews(plan, capture, activations is null ? null : new ActivationRecorder(activations, capture!), embedding,
            maximisation is { Channels: > 0 } && job.Methods.Any(x => x.Layer is not null), embedding is null ? null : knn);
    }

    /// <summary>
    /// The embedding view's layer, checked against the model's taps; null without the view. By default
    /// <see cref="ModelTaps.DefaultEmbedding"/>: the pre-logits features, else forward_features pooled (timm convention);
    /// the input of the last top-level Linear otherwise.
    /// </summary>
    /// <param name="probe">One input row, for counting a timm-convention model's stages.</param>
    public static string? EmbeddingLayer(ExplainModel model, JobPlan plan, Func<Tensor> probe)
    {
        if (plan.Embedding is not { } view) return null;
        var layer = view.Layer ?? ModelTaps.DefaultEmbedding(model)
            ?? throw new ExplainException("views.embedding.layer: missing, and the model has no top-level Linear to take the input of " +
                "(export forward_features/forward_head and pre_logits, timm convention, e.g. with tools/explain_export.py, to take the pre-logits features)");
        return ModelTaps.Checked(model, [layer], probe, "views.embedding.layer")[0];
    }

    /// <summary>After a batch's shared pass.</summary>
    /// <param name="indices">The batch rows' dataset indices.</param>
    /// <param name="labels">The batch rows' labels, when the data has them.</param>
    public void Add(GradientBatch batch, int classes, IReadOnlyList<long> indices, long[]? labels)
    {
        _activations?.Add(batch.Targets, classes);
        if (_embedding is not null)
        {
            // Σ x and Σ x xᵀ of the flattened features, on the device: only d + d² values come back per batch.
            using var features = NewDisposeScope();
            var x = ModelTaps.Rows(Capture![_embedding], _embedding).to(float64);
            if (x.shape[1] > MaxEmbeddingFeatures)
                throw new ExplainException(
                    $"views.embedding.layer: \"{_embedding}\" gives {x.shape[1]} features per sample; at most {MaxEmbeddingFeatures} (their covariance is " +
                    "features² values): name a later, narrower layer");
            var sum = x.sum([0]).cpu().data<double>().ToArray();
            var cross = x.t().mm(x).cpu().data<double>().ToArray();
            var (count, totals, crosses) = _embedded ?? (0, new double[sum.Length], new double[cross.Length]);
            for (var j = 0; j < sum.Length; j++) totals[j] += sum[j];
            for (var j = 0; j < cross.Length; j++) crosses[j] += cross[j];
            _embedded = (count + x.shape[0], totals, crosses);
            if (_knn is not null && labels is not null)
            {
                // The label-vote subset's samples keep their whole feature vector: the job finds their neighbours.
                var rows = Enumerable.Range(0, indices.Count).Where(i => _knn.Contains(indices[i])).ToArray();
                if (rows.Length > 0)
                {
                    var kept = x.index_select(0, tensor(rows.Select(r => (long)r).ToArray()).to(x.device)).to(float32).cpu().data<float>().ToArray();
                    var d = (int)x.shape[1];
                    for (var j = 0; j < rows.Length; j++) _voters.Add((indices[rows[j]], labels[rows[j]], kept[(j * d)..((j + 1) * d)]));
                }
            }
        }
        if (!_channelWeights || batch.FeatureGrad is not { } grad || grad.dim() != 4) return;
        // Grad-CAM's α_k (the spatial mean of ∂y/∂A_k), summed over samples: maximisation visualises the largest channels.
        using var scope = NewDisposeScope();
        var sums = grad.mean([2, 3]).to(float64).sum([0]).cpu().data<double>().ToArray();
        _channelWeightSums ??= new double[sums.Length];
        for (var c = 0; c < sums.Length; c++) _channelWeightSums[c] += sums[c];
    }

    /// <summary>The views' parts of the shard's partial, after its batches.</summary>
    /// <param name="rows">Puts the given dataset indices (of this shard) through the preprocessing: [m, ...] on the model's device.</param>
    /// <param name="chosen">The shard's part of the pruning sample (ascending dataset indices).</param>
    public ShardViewsResult Finish(ExplainModel model, ShardData data, Func<long[], Tensor> rows, long[] targets, long[]? chosen)
    {
        // The weights view is the model's, not the data's: the shard that starts the dataset computes it, once per job.
        var weights = _plan.Weights && data.Start == 0 ? WeightStatistics.Compute(model) : null;
        PruningImportancePartial? pruning = null;
        if (_plan.Pruning is { } options && chosen is { Length: > 0 })
        {
            using var scope = NewDisposeScope();
            var (x, labels, target) = Rows(model, data, rows, targets, chosen);
            ImportanceSums sums;
            try
            {
                sums = ChannelPruning.Importance(model, options.Layer, x, labels, target, options.MaxRows);
            }
            catch (ExplainException error) when (error.Message.StartsWith("unknown Grad-CAM layer", StringComparison.Ordinal) || error.Message.StartsWith("Grad-CAM layer", StringComparison.Ordinal))
            {
                // The layer split speaks of Grad-CAM, its first user: say which option named the layer.
                throw new ExplainException("views.pruning.layer: " + error.Message.Replace("unknown Grad-CAM layer", "unknown layer").Replace("Grad-CAM layer", "layer"), error);
            }
            pruning = new PruningImportancePartial(sums.Labelled, sums.Samples, sums.BaselineCorrect, sums.BaselineProbability, sums.Correct, sums.Probability);
        }
        return new ShardViewsResult(weights, _activations?.Partial(), pruning, _channelWeightSums,
            _embedded is { } e ? new EmbeddingPartial(_embedding!, e.Count, e.Sum, e.Cross,
                [.. _voters.Select(v => v.Index)], [.. _voters.Select(v => v.Label)], [.. _voters.SelectMany(v => v.Features)]) : null);
    }

    /// <summary>The inputs, labels (when the data has them) and targets of the given dataset indices of this shard.</summary>
    public static (Tensor Inputs, Tensor? Labels, Tensor Targets) Rows(ExplainModel model, ShardData data, Func<long[], Tensor> rows, long[] targets, long[] chosen)
    {
        var at = chosen.Select(i => ShardExplainer.Row(data, i)).ToArray();
        var labels = data.Labels is null ? null : tensor(at.Select(r => data.Labels[r]).ToArray()).to(model.Device);
        return (rows(chosen), labels, tensor(at.Select(r => targets[r]).ToArray()).to(model.Device));
    }
}

/// <summary>The views' parts of a shard's partial.</summary>
public sealed record ShardViewsResult(WeightsPartial? Weights, ActivationsPartial? Activations, PruningImportancePartial? Pruning, double[]? ChannelWeightSums,
    EmbeddingPartial? Embedding);
