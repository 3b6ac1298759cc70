using System.Diagnostics;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Stats;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// The tensor work of one shard, synchronous and on the caller's thread: batches of the shard go
/// through one shared forward/backward, every method reads its maps from it, and the results leave
/// as plain arrays. Each batch lives in its own dispose scope.
/// </summary>
public static class ShardExplainer
{
    public static readonly ActivitySource Activities = new("ExplainCluster.Engine");

    public static ShardResult Compute(ExplainModel model, JobSpec job, ShardSpec shard, ShardData data, string silo)
    {
        var watch = Stopwatch.StartNew();
        var methods = job.Methods.Select(MethodRegistry.Create).ToArray();
        var layers = methods.Select(m => m.Layer).OfType<string>().Distinct().ToArray();
        if (layers.Length > 1) throw new ExplainException("methods: one split layer per job");
        var split = layers.Length == 1 ? model.Split(layers[0]) : null;
        var explainLabels = job.Target == TargetMode.Label;

        var n = data.Count;
        var sampleElements = data.SampleShape.Aggregate(1, (a, b) => a * b);
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        var batchSize = job.BatchSize;

        float[] logits = [];
        var predictions = new int[n];
        var confidence = new float[n];
        var loss = data.Labels is null ? null : new float[n];
        var targets = new long[n];
        var outputs = new MethodAccumulator[methods.Length];
        var classes = 0;

        // The shard's samples as one tensor, checked once; batches are views of it.
        using var shardRaw = tensor(data.Raw, [n, .. data.SampleShape.Select(d => (long)d)]);
        CheckFinite(shardRaw, data.Start);

        for (var start = 0; start < n; start += batchSize)
        {
            var count = Math.Min(batchSize, n - start);
            using var activity = Activities.StartActivity("model.batch");
            activity?.SetTag("explain.batch.start", data.Start + start);
            activity?.SetTag("explain.batch.size", count);
            using var scope = NewDisposeScope();

            var input = preprocess.Apply(shardRaw.narrow(0, start, count)).to(model.Device);
            var labelSlice = data.Labels?.AsSpan(start, count).ToArray();
            var labelTensor = labelSlice is null ? null : tensor(labelSlice).to(model.Device);

            var batch = GradientBatch.Compute(model, input, explainLabels ? labelTensor : null, split, methods.Length > 0);
            if (batch.Logits.dim() != 2)
                throw new ExplainException($"model output has shape [{string.Join(", ", batch.Logits.shape)}]; expected [batch, classes] logits");
            if (classes == 0)
            {
                classes = (int)batch.Logits.shape[1];
                ValidateClasses(job, classes);
                logits = new float[(long)n * classes];
                for (var m = 0; m < methods.Length; m++) outputs[m] = new MethodAccumulator(methods[m].Name, n, classes);
            }
            if (labelSlice is not null) CheckLabels(labelSlice, classes, data.Start + start);

            var cpuLogits = batch.Logits.cpu();
            cpuLogits.data<float>().CopyTo(logits.AsSpan(start * classes, count * classes));
            var logProbabilities = nn.functional.log_softmax(cpuLogits, 1);
            var (maxLog, argmax) = logProbabilities.max(1);
            maxLog.exp().data<float>().CopyTo(confidence.AsSpan(start, count));
            var predicted = argmax.data<long>().ToArray();
            for (var i = 0; i < count; i++) predictions[start + i] = (int)predicted[i];
            if (labelTensor is not null)
            {
                var nll = -logProbabilities.gather(1, labelTensor.cpu().unsqueeze(1)).squeeze(1);
                nll.data<float>().CopyTo(loss.AsSpan(start, count));
            }
            var batchTargets = batch.Targets.cpu().data<long>().ToArray();
            batchTargets.CopyTo(targets, start);

            for (var m = 0; m < methods.Length; m++)
            {
                var maps = methods[m].Attribute(batch).detach().cpu().contiguous();
                outputs[m].Add(start, maps, batchTargets);
            }
        }

        var accumulator = new PartialAccumulator(classes, sampleElements);
        accumulator.AddPredictions(predictions);
        accumulator.AddInputs(data.Raw, targets, job.Data.Preprocess.Scale);
        ErrorPartial? errors = null;
        if (data.Labels is not null) errors = ErrorStatistics.Partial(shard.Index, data.Start, data.Labels, predictions, confidence, loss!, classes);
        var methodOutputs = outputs.Select(o => o.Output()).ToArray();
        var methodPartials = outputs.Select(o => o.Partial()).ToArray();
        foreach (var o in outputs) o.Dispose();
        var partial = new ShardPartial(
            shard.Index, n, silo, watch.Elapsed.TotalSeconds, accumulator.PredictedCounts, errors,
            methodPartials, data.SampleShape, accumulator.InputClassSum, accumulator.InputClassCount);
        return new ShardResult(data.Start, n, classes, data.Labels, logits, predictions, confidence, loss, methodOutputs, partial);
    }

    private static void CheckFinite(Tensor raw, long firstIndex)
    {
        using var scope = NewDisposeScope();
        if (isfinite(raw).all().item<bool>()) return;
        var bad = (~isfinite(raw).flatten(1).all(1)).nonzero()[0, 0].item<long>();
        throw new ExplainException($"inputs contain NaN or Inf at sample {firstIndex + bad}");
    }

    private static void CheckLabels(long[] labels, int classes, long firstIndex)
    {
        for (var i = 0; i < labels.Length; i++)
            if (labels[i] < 0 || labels[i] >= classes)
                throw new ExplainException($"label {labels[i]} at sample {firstIndex + i} is outside the model's classes 0..{classes - 1}");
    }

    private static void ValidateClasses(JobSpec job, int classes)
    {
        if (job.Model.Classes is { } names && names.Length != classes)
            throw new ExplainException($"model.classes has {names.Length} names but the model outputs {classes} logits");
    }

    /// <summary>Collects one method's maps over a shard; per-sample scalars and per-class sums are tensor reductions.</summary>
    private sealed class MethodAccumulator(string name, int samples, int classes) : IDisposable
    {
        private int[] _mapShape = [];
        private int _mapSize;
        private float[] _maps = [];
        private readonly float[] _meanAbs = new float[samples];
        private readonly float[] _max = new float[samples];
        private readonly long[] _classCounts = new long[classes];
        private Tensor? _classSum;
        private Tensor? _classAbsSum;

        public void Add(int start, Tensor maps, long[] targets)
        {
            if (_mapSize == 0)
            {
                _mapShape = [.. maps.shape.Skip(1).Select(d => (int)d)];
                _mapSize = _mapShape.Aggregate(1, (a, b) => a * b);
                _maps = new float[(long)samples * _mapSize];
                _classSum = zeros([classes, _mapSize], float64).DetachFromDisposeScope();
                _classAbsSum = zeros([classes, _mapSize], float64).DetachFromDisposeScope();
            }
            var count = (int)maps.shape[0];
            var flat = maps.reshape(count, _mapSize);
            flat.data<float>().CopyTo(_maps.AsSpan(start * _mapSize, count * _mapSize));
            var abs = flat.abs();
            abs.mean([1]).data<float>().CopyTo(_meanAbs.AsSpan(start, count));
            flat.amax([1]).data<float>().CopyTo(_max.AsSpan(start, count));
            var index = tensor(targets);
            _classSum!.index_add_(0, index, flat.to(float64), 1.0);
            _classAbsSum!.index_add_(0, index, abs.to(float64), 1.0);
            foreach (var t in targets) _classCounts[t]++;
        }

        public MethodOutput Output() => new(name, _mapShape, _maps, _meanAbs, _max);

        public MethodPartial Partial() => new(name, _mapShape, _classCounts,
            _classSum?.data<double>().ToArray() ?? [], _classAbsSum?.data<double>().ToArray() ?? []);

        public void Dispose()
        {
            _classSum?.Dispose();
            _classAbsSum?.Dispose();
        }
    }
}
