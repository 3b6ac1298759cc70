using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Output;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>
/// Evaluates every map of a shard's batches, and a random ordering, by deletion and insertion, and keeps
/// each sample's curves and AUCs as plain arrays.
/// </summary>
public sealed class FaithfulnessRecorder(FaithfulnessSpec spec, IReadOnlyList<string> methods, int samples)
{
    private readonly OrderingCurves[] _orderings =
        [.. methods.Append(FaithfulnessSpec.Random).Select(m => new OrderingCurves(m, samples, spec.Steps + 1))];

    /// <summary>One batch: <paramref name="maps"/> are the methods' maps in the order of their names, each [n, ...].</summary>
    public void Add(int start, MethodBatch batch, IReadOnlyList<Tensor> maps)
    {
        using var scope = NewDisposeScope();
        var curves = new PixelCurves(spec.Steps, spec.Baseline, batch.MaxRows);
        var input = batch.Input;
        for (var m = 0; m < maps.Count; m++)
        {
            var order = PixelCurves.Order(PixelScores.For(maps[m].detach(), input));
            _orderings[m].Add(start, curves.Curves(batch.Model, input, batch.Targets, order));
        }
        var pixels = input.shape[^2] * input.shape[^1];
        var random = PixelCurves.RandomOrder(batch.Indices, spec.Seed, pixels, input.device);
        _orderings[^1].Add(start, curves.Curves(batch.Model, input, batch.Targets, random));
    }

    public FaithfulnessResult Result() => new(spec.Steps, [.. _orderings.Select(o => o.Result())]);

    private sealed class OrderingCurves(string method, int samples, int points)
    {
        private readonly double[] _deletion = new double[(long)samples * points];
        private readonly double[] _insertion = new double[(long)samples * points];
        private readonly double[] _deletionAuc = new double[samples];
        private readonly double[] _insertionAuc = new double[samples];

        public void Add(int start, (Tensor Deletion, Tensor Insertion) curves)
        {
            var count = (int)curves.Deletion.shape[0];
            Copy(curves.Deletion, _deletion.AsSpan(start * points, count * points));
            Copy(curves.Insertion, _insertion.AsSpan(start * points, count * points));
            Copy(PixelCurves.Auc(curves.Deletion), _deletionAuc.AsSpan(start, count));
            Copy(PixelCurves.Auc(curves.Insertion), _insertionAuc.AsSpan(start, count));
        }

        public OrderingResult Result() => new(method, _deletion, _insertion, _deletionAuc, _insertionAuc);

        private static void Copy(Tensor values, Span<double> to) => values.cpu().contiguous().data<double>().CopyTo(to);
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

/// <summary>One ordering's curves, [samples × (steps + 1)] row-major, and AUCs [samples].</summary>
public sealed record OrderingResult(string Method, double[] Deletion, double[] Insertion, double[] DeletionAuc, double[] InsertionAuc);
