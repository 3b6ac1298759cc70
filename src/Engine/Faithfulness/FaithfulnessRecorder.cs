using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Output;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>
/// Evaluates every map of a shard's batches, and a random ordering, by deletion and insertion, and keeps
/// each sample's curves and AUCs as plain arrays; a sample a method did not explain (outside its subset) has NaN in
/// that method's.
/// </summary>
public sealed class FaithfulnessRecorder(FaithfulnessSpec spec, IReadOnlyList<string> methods, int samples)
{
    private readonly OrderingCurves[] _orderings =
        [.. methods.Append(FaithfulnessSpec.Random).Select(m => new OrderingCurves(m, samples, spec.Steps + 1))];

    /// <summary>
    /// One batch: each entry of <paramref name="maps"/> is a method's position in the recorder's list, its maps [r, ...]
    /// and the batch rows they belong to (null: every row).
    /// </summary>
    public void Add(int start, MethodBatch batch, IReadOnlyList<(int Method, Tensor Maps, int[]? Rows)> maps)
    {
        using var scope = NewDisposeScope();
        var curves = new PixelCurves(spec.Steps, spec.Baseline, batch.MaxRows);
        var input = batch.Input;
        foreach (var (m, map, rows) in maps)
        {
            var (x, targets) = rows is null ? (input, batch.Targets)
                : (input.index_select(0, tensor(rows.Select(r => (long)r).ToArray(), device: input.device)),
                   batch.Targets.index_select(0, tensor(rows.Select(r => (long)r).ToArray(), device: batch.Targets.device)));
            var order = PixelCurves.Order(PixelScores.For(map.detach(), x));
            _orderings[m].Add(start, curves.Curves(batch.Model, x, targets, order), rows);
        }
        var pixels = input.shape[^2] * input.shape[^1];
        var random = PixelCurves.RandomOrder(batch.Indices, spec.Seed, pixels, input.device);
        _orderings[^1].Add(start, curves.Curves(batch.Model, input, batch.Targets, random), null);
    }

    public FaithfulnessResult Result() => new(spec.Steps, [.. _orderings.Select(o => o.Result())]);

    private sealed class OrderingCurves
    {
        private readonly string _method;
        private readonly int _points;
        private readonly double[] _deletion, _insertion, _deletionAuc, _insertionAuc;

        public OrderingCurves(string method, int samples, int points)
        {
            (_method, _points) = (method, points);
            (_deletion, _insertion) = (Unevaluated((long)samples * points), Unevaluated((long)samples * points));
            (_deletionAuc, _insertionAuc) = (Unevaluated(samples), Unevaluated(samples));
        }

        /// <param name="rows">The batch rows of the curves' rows; null: the whole batch, in order.</param>
        public void Add(int start, (Tensor Deletion, Tensor Insertion) curves, int[]? rows)
        {
            var count = (int)curves.Deletion.shape[0];
            var (deletion, insertion) = (Values(curves.Deletion), Values(curves.Insertion));
            var (deletionAuc, insertionAuc) = (Values(PixelCurves.Auc(curves.Deletion)), Values(PixelCurves.Auc(curves.Insertion)));
            for (var j = 0; j < count; j++)
            {
                var i = start + (rows?[j] ?? j);
                deletion.AsSpan(j * _points, _points).CopyTo(_deletion.AsSpan(i * _points, _points));
                insertion.AsSpan(j * _points, _points).CopyTo(_insertion.AsSpan(i * _points, _points));
                (_deletionAuc[i], _insertionAuc[i]) = (deletionAuc[j], insertionAuc[j]);
            }
        }

        public OrderingResult Result() => new(_method, _deletion, _insertion, _deletionAuc, _insertionAuc);

        private static double[] Unevaluated(long length)
        {
            var values = new double[length];
            Array.Fill(values, double.NaN);
            return values;
        }

        private static double[] Values(Tensor values) => values.cpu().contiguous().data<double>().ToArray();
    }
}

/// <summary>A shard's faithfulness: per ordering (each method, then random), every sample's curves and AUCs.</summary>
public sealed record FaithfulnessResult(int Steps, IReadOnlyList<OrderingResult> Orderings)
{
    /// <summary>The parquet columns: <c>&lt;method&gt;_deletion_auc</c> and <c>&lt;method&gt;_insertion_auc</c> per ordering.</summary>
    public IEnumerable<SampleColumn> Columns => Orderings.SelectMany(o => new[]
    {
        new SampleColumn($"{OutputLayout.Column(o.Method)}_deletion_auc", Array.ConvertAll(o.DeletionAuc, v => (float)v)),
        new SampleColumn($"{OutputLayout.Column(o.Method)}_insertion_auc", Array.ConvertAll(o.InsertionAuc, v => (float)v)),
    });
}

/// <summary>One ordering's curves, [samples × (steps + 1)] row-major, and AUCs [samples]; NaN for a sample it did not evaluate.</summary>
public sealed record OrderingResult(string Method, double[] Deletion, double[] Insertion, double[] DeletionAuc, double[] InsertionAuc);
