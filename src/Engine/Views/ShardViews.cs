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
    private readonly JobSpec _job;
    private readonly ActivationRecorder? _activations;
    private readonly bool _channelWeights;
    private double[]? _channelWeightSums;

    private ShardViews(JobSpec job, ActivationRecorder? activations, bool channelWeights)
    {
        (_job, _activations, _channelWeights) = (job, activations, channelWeights);
    }

    /// <summary>The layers the shared pass must keep for the activations view; null without it.</summary>
    public ActivationCapture? Capture => _activations?.Capture;

    /// <summary>Null when the job has no views.</summary>
    public static ShardViews? For(ExplainModel model, JobSpec job)
    {
        if (job.Views is not { Length: > 0 }) return null;
        var maximisation = ViewsOptions.Find(job, ViewsOptions.Maximisation) is { } m ? MaximisationOptions.Read(m.Options) : null;
        return new ShardViews(job, Activations(model, job), maximisation is { Channels: > 0 } && job.Methods.Any(x => x.Layer is not null));
    }

    /// <summary>The activations view's recorder, its layers checked against the model's top-level children; null without the view.</summary>
    private static ActivationRecorder? Activations(ExplainModel model, JobSpec job)
    {
        if (ViewsOptions.Find(job, ViewsOptions.Activations) is not { } view) return null;
        var children = model.TopLevelChildren();
        var layers = ViewsOptions.ReadActivations(view) ?? children;
        foreach (var layer in layers)
            if (!children.Contains(layer))
                throw new ExplainException($"views.activations.layers: \"{layer}\" is not a top-level child of the model ({string.Join(", ", children.Take(12))})");
        return new ActivationRecorder(layers);
    }

    /// <summary>After a batch's shared pass.</summary>
    public void Add(GradientBatch batch, int classes)
    {
        _activations?.Add(batch.Targets, classes);
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
        var weights = ViewsOptions.Find(_job, ViewsOptions.Weights) is not null && data.Start == 0 ? WeightStatistics.Compute(model) : null;
        PruningImportancePartial? pruning = null;
        if (SampleSelection.PruningOf(_job) is { } options && chosen is { Length: > 0 })
        {
            using var scope = NewDisposeScope();
            var (x, labels, target) = Rows(model, data, rows, targets, chosen);
            var sums = ChannelPruning.Importance(model, options.Layer, x, labels, target, options.MaxRows);
            pruning = new PruningImportancePartial(sums.Labelled, sums.Samples, sums.BaselineCorrect, sums.BaselineProbability, sums.Correct, sums.Probability);
        }
        return new ShardViewsResult(weights, _activations?.Partial(), pruning, _channelWeightSums);
    }

    /// <summary>The inputs, labels (when the data has them) and targets of the given dataset indices of this shard.</summary>
    public static (Tensor Inputs, Tensor? Labels, Tensor Targets) Rows(ExplainModel model, ShardData data, Func<long[], Tensor> rows, long[] targets, long[] chosen)
    {
        var at = chosen.Select(i => (int)(i - data.Start)).ToArray();
        var labels = data.Labels is null ? null : tensor(at.Select(r => data.Labels[r]).ToArray()).to(model.Device);
        return (rows(chosen), labels, tensor(at.Select(r => targets[r]).ToArray()).to(model.Device));
    }
}

/// <summary>The views' parts of a shard's partial.</summary>
public sealed record ShardViewsResult(WeightsPartial? Weights, ActivationsPartial? Activations, PruningImportancePartial? Pruning, double[]? ChannelWeightSums);
