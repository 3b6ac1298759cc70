using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// A shard's work after every shard's explanations (<see cref="ShardPhase.Post"/>), which needs what only the whole
/// job knows: pruning's curve with the global channel ranking, over this shard's part of the pruning sample, and the
/// maximisation objectives the job handed this shard. On the caller's (model host) thread.
/// </summary>
public static class PostWorker
{
    /// <param name="pruningRows">This shard's part of the pruning sample (ascending dataset indices); null without pruning.</param>
    /// <returns>The curve's sums, the images, and with an embedding every sample's coordinates [n, dims] row-major.</returns>
    public static (PruningCurvePartial? Curve, MaximisationImage[] Images, float[]? Embedding) Compute(
        ExplainModel model, JobSpec job, ShardData data, PostWork work, long[]? pruningRows, CancellationToken ct = default, BatchClock? clock = null)
    {
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        using var shardRaw = tensor(data.Raw, [data.Count, .. data.SampleShape.Select(d => (long)d)]);
        Tensor Rows(long[] indices) => ShardExplainer.RowsOf(model, data, shardRaw, preprocess, indices);

        PruningCurvePartial? curve = null;
        if (work.PruningOrder is { } order && JobPlan.Of(job).Pruning is { } pruning && pruningRows is { Length: > 0 })
        {
            clock?.Tick();
            using var scope = NewDisposeScope();
            var x = Rows(pruningRows);
            var labels = data.Labels is null ? null : tensor(pruningRows.Select(i => data.Labels[ShardExplainer.Row(data, i)]).ToArray()).to(model.Device);
            Tensor targets;
            using (no_grad())
                targets = job.Target == TargetMode.Label && labels is not null ? labels : model.Forward(x).argmax(1);
            var sums = ChannelPruning.Curve(model, pruning.Layer, x, labels, targets, order, work.PruningRemoved, pruning.MaxRows);
            curve = new PruningCurvePartial(sums.Labelled, sums.Samples, sums.Removed, sums.Correct, sums.Probability);
        }

        var images = new List<MaximisationImage>();
        if (work.Objectives.Length > 0 && JobPlan.Of(job).Maximisation is { } options)
        {
            using var scope = NewDisposeScope();
            var shape = Rows([data.IndexOf(0)]).shape.Skip(1).Select(d => (int)d).ToArray();
            var bounds = shape.Length == 3 ? InputBounds.For(job.Data.Preprocess, shape[0], 0, RawHigh(job.Data.Preprocess)) : null;
            foreach (var objective in work.Objectives)
            {
                ct.ThrowIfCancellationRequested();
                clock?.Tick();
                Objective target = objective.Layer is null ? new ClassObjective(objective.Class) : new ChannelObjective(objective.Layer, objective.Channel);
                var result = ActivationMaximisation.Run(model, shape, target, options, bounds);
                images.Add(new MaximisationImage(objective, result.Shape, result.Input, result.Trajectory, result.Value, result.Probability));
            }
        }
        float[]? coordinates = null;
        if (work.Embedding is { } basis)
        {
            // A second forward over the shard, the embedding's layer taken and projected on the job's components.
            coordinates = new float[data.Count * basis.Dims];
            var capture = new ActivationCapture([basis.Layer], "views.embedding.layer");
            using var noGrad = no_grad();
            using var components = tensor(basis.Components, [basis.Dims, basis.Mean.Length]).to(model.Device);
            using var mean = tensor(basis.Mean).to(model.Device);
            for (var start = 0; start < data.Count; start += job.BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                clock?.Tick();
                using var scope = NewDisposeScope();
                var count = Math.Min(job.BatchSize, data.Count - start);
                var x = model.PrepareInput(preprocess.Apply(shardRaw.narrow(0, start, count)));
                capture.Clear();
                capture.Complete(model, x);
                var projected = (ModelTaps.Rows(capture[basis.Layer], basis.Layer).to(float64) - mean).mm(components.t()).to(float32).cpu();
                projected.data<float>().CopyTo(coordinates.AsSpan(start * basis.Dims, count * basis.Dims));
            }
        }
        return (curve, [.. images], coordinates);
    }

    /// <summary>The largest raw value the preprocessing expects: 255 for 8-bit images scaled by 1/255, else 1/scale (1 when unscaled).</summary>
    public static double RawHigh(PreprocessSpec preprocess) => preprocess.Scale < 1 ? 1 / preprocess.Scale : 1;
}
