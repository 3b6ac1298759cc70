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

        for (var start = 0; start < n; start += batchSize)
        {
            var count = Math.Min(batchSize, n - start);
            using var activity = Activities.StartActivity("model.batch");
            activity?.SetTag("explain.batch.start", data.Start + start);
            activity?.SetTag("explain.batch.size", count);
            using var scope = NewDisposeScope();

            var raw = tensor(data.Raw.AsSpan(start * sampleElements, count * sampleElements).ToArray(), [count, .. data.SampleShape.Select(d => (long)d)]);
            CheckFinite(raw, data.Start + start);
            var input = preprocess.Apply(raw).to(model.Device);
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
        var partial = new ShardPartial(
            shard.Index, n, silo, watch.Elapsed.TotalSeconds, accumulator.PredictedCounts, errors,
            [.. outputs.Select(o => o.Partial())], data.SampleShape, accumulator.InputClassSum, accumulator.InputClassCount);
        return new ShardResult(data.Start, n, classes, data.Labels, logits, predictions, confidence, loss, methodOutputs, partial);
    }

    private static void CheckFinite(Tensor raw, long firstIndex)
    {
        var finite = isfinite(raw).flatten(1).all(1);
        if (finite.all().item<bool>()) return;
        var bad = (~finite).nonzero()[0, 0].item<long>();
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

    /// <summary>Collects one method's maps over a shard and its per-class sums.</summary>
    private sealed class MethodAccumulator(string name, int samples, int classes)
    {
        private int[] _mapShape = [];
        private int _mapSize;
        private float[] _maps = [];
        private readonly float[] _meanAbs = new float[samples];
        private readonly float[] _max = new float[samples];
        private readonly long[] _classCounts = new long[classes];
        private double[] _classSum = [];
        private double[] _classAbsSum = [];

        public void Add(int start, Tensor maps, long[] targets)
        {
            if (_mapSize == 0)
            {
                _mapShape = [.. maps.shape.Skip(1).Select(d => (int)d)];
                _mapSize = _mapShape.Aggregate(1, (a, b) => a * b);
                _maps = new float[(long)samples * _mapSize];
                _classSum = new double[(long)classes * _mapSize];
                _classAbsSum = new double[(long)classes * _mapSize];
            }
            var count = (int)maps.shape[0];
            var values = maps.data<float>();
            values.CopyTo(_maps.AsSpan(start * _mapSize, count * _mapSize));
            for (var i = 0; i < count; i++)
            {
                var row = _maps.AsSpan((start + i) * _mapSize, _mapSize);
                var target = (int)targets[i];
                _classCounts[target]++;
                var sum = _classSum.AsSpan(target * _mapSize, _mapSize);
                var abs = _classAbsSum.AsSpan(target * _mapSize, _mapSize);
                double absTotal = 0;
                var max = float.NegativeInfinity;
                for (var j = 0; j < row.Length; j++)
                {
                    var v = row[j];
                    sum[j] += v;
                    abs[j] += Math.Abs(v);
                    absTotal += Math.Abs(v);
                    if (v > max) max = v;
                }
                _meanAbs[start + i] = (float)(absTotal / _mapSize);
                _max[start + i] = max;
            }
        }

        public MethodOutput Output() => new(name, _mapShape, _maps, _meanAbs, _max);

        public MethodPartial Partial() => new(name, _mapShape, _classCounts, _classSum, _classAbsSum);
    }
}
