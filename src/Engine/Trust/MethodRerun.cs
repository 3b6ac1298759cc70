using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// One method run again on other inputs or for other targets, for some rows of a batch, as the shard's pass runs it: a
/// forward/backward of its own (through the job's split layer), then the method, with each row's dataset index (its
/// seeds), segments and label, and the job's row budget.
/// </summary>
public sealed class MethodRerun(IAttributionMethod method, ILayerSplit? split)
{
    public IAttributionMethod Method => method;

    /// <param name="batch">The batch the rows come from.</param>
    /// <param name="rows">Each new row's position in <paramref name="batch"/> (repeats allowed).</param>
    /// <param name="x">The new inputs, [rows, ...] as the model takes them.</param>
    /// <param name="targets">[rows] int64.</param>
    /// <returns>The maps, detached.</returns>
    public Tensor Maps(MethodBatch batch, int[] rows, Tensor x, Tensor targets)
    {
        var of = batch.Select(rows);
        var shared = GradientBatch.Compute(batch.Model, x, targets, split, method.UsesSharedGradients);
        return method.Attribute(new MethodBatch(batch.Model, shared, [.. of.Indices], batch.MaxRows, of.Segments, of.Labels)).Maps.detach();
    }
}

/// <summary>The trust metrics' random streams: each metric draws from its own generator per sample, seeded by (seed, dataset index, metric).</summary>
public static class TrustSeeds
{
    public const long Sensitivity = 1, RandomLogit = 2, Road = 3;

    public static ulong For(long seed, long index, long stream) => SampleSeeds.For((long)SampleSeeds.For(seed, index), stream);

    /// <summary>One generator per row of <paramref name="indices"/>, on the CPU (so every device draws the same numbers).</summary>
    public static Generator[] Generators(long seed, IEnumerable<long> indices, long stream) =>
        [.. indices.Select(i => new Generator(For(seed, i, stream), CPU))];
}
