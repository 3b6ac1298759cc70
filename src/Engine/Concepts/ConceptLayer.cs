using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Concepts;

/// <summary>
/// The tensor work of TCAV at its layer, on the model host's thread: the split there (checked once, its errors named as the
/// concepts block's), the examples' activations, and each sample's directional derivatives: the gradient of its target logit
/// with respect to the layer's activations, dotted with every CAV.
/// </summary>
public static class ConceptLayer
{
    /// <summary>The model split at the concepts' layer, checked against the model's forward on one of <paramref name="probe"/>'s samples.</summary>
    public static ILayerSplit Split(ExplainModel model, string layer, JobSpec job, ShardData probe)
    {
        try
        {
            var split = model.Split(layer);
            using var scope = NewDisposeScope();
            model.VerifySplit(split, Inputs(model, job, probe, 0, 1));
            return split;
        }
        catch (ExplainException e)
        {
            throw new ExplainException($"concepts.layer: {e.Message.Replace("Grad-CAM layer", "layer", StringComparison.Ordinal)}", e);
        }
    }

    /// <summary>The set's activations at the layer, flattened per example: float64 [n, D] on the CPU (in the caller's dispose scope).</summary>
    public static Tensor Activations(ExplainModel model, ILayerSplit split, JobSpec job, ShardData set, CancellationToken ct, BatchClock? clock)
    {
        var parts = new List<Tensor>();
        for (var start = 0; start < set.Count; start += job.BatchSize)
        {
            ct.ThrowIfCancellationRequested();
            clock?.Tick();
            using var batch = NewDisposeScope();
            using var noGrad = no_grad();
            var input = Inputs(model, job, set, start, Math.Min(job.BatchSize, set.Count - start));
            var features = model.Invoke(input, () => split.Features(input));
            parts.Add(features.contiguous().flatten(1).to(ScalarType.Float64).cpu().MoveToOuterDisposeScope());
        }
        return cat(parts, 0);
    }

    /// <summary>
    /// Each row's directional derivatives, [rows, CAVs] row-major: ∂y_target/∂A · v for every CAV v. The gradient is the one
    /// given (the shared pass's at this layer) or one backward from the target logit to the layer; the dot products are taken in
    /// double precision on the CPU in a fixed order, so a sample's values do not depend on its batch.
    /// </summary>
    public static double[] Derivatives(ExplainModel model, ILayerSplit split, Tensor input, Tensor targets, ConceptVectors vectors, Tensor? layerGradient = null)
    {
        using var scope = NewDisposeScope();
        var gradient = layerGradient ?? Gradient(model, split, input, targets);
        var rows = (int)gradient.shape[0];
        var values = gradient.detach().contiguous().flatten(1).to(ScalarType.Float32).cpu().data<float>().ToArray();
        var dim = values.Length / Math.Max(rows, 1);
        if (rows > 0 && dim != vectors.Dim)
            throw new ExplainException($"concepts.layer: the layer's activations have {dim} values per sample, but its concept vectors {vectors.Dim}");
        var derivatives = new double[rows * vectors.Count];
        var g = new double[dim];
        for (var i = 0; i < rows; i++)
        {
            for (var d = 0; d < dim; d++) g[d] = values[i * dim + d];
            for (var v = 0; v < vectors.Count; v++) derivatives[i * vectors.Count + v] = Dot(g, vectors.Vector(v));
        }
        return derivatives;
    }

    /// <summary>Σ aᵢ bᵢ in SIMD lanes, then the lanes and the tail in a fixed order: the same for a row whatever its batch.</summary>
    private static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var lanes = System.Numerics.Vector<double>.Count;
        var sum = System.Numerics.Vector<double>.Zero;
        var i = 0;
        for (; i <= a.Length - lanes; i += lanes) sum += new System.Numerics.Vector<double>(a[i..]) * new System.Numerics.Vector<double>(b[i..]);
        var total = System.Numerics.Vector.Sum(sum);
        for (; i < a.Length; i++) total += a[i] * b[i];
        return total;
    }

    /// <summary>∂y_target/∂A at the layer: the features without gradients, then one forward and backward through the head.</summary>
    private static Tensor Gradient(ExplainModel model, ILayerSplit split, Tensor input, Tensor targets)
    {
        Tensor features;
        using (no_grad()) features = model.Invoke(input, () => split.Features(input));
        using var grad = enable_grad();
        var f = features.detach().requires_grad_(true);
        var output = model.Invoke(input, () => split.Head(f));
        var selected = output.gather(1, targets.unsqueeze(1)).sum();
        return Methods.Gradients.Of("the head's selected outputs", [selected], [f], allowUnused: true)[0] ?? zeros_like(f);
    }

    private static Tensor Inputs(ExplainModel model, JobSpec job, ShardData set, int start, int count)
    {
        var raw = tensor(set.Raw.AsSpan(start * ElementsOf(set), count * ElementsOf(set)).ToArray(), [count, .. set.SampleShape.Select(d => (long)d)]);
        return model.PrepareInput(Preprocessor.Create(job.Data.Preprocess, set.SampleShape).Apply(raw));
    }

    private static int ElementsOf(ShardData set) => set.SampleShape.Aggregate(1, (a, b) => a * b);
}
