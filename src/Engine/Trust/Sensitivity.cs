using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// Max- and avg-sensitivity (Yeh et al. 2019) as Quantus' MaxSensitivity and AvgSensitivity with their defaults
/// (batch_uniform_noise, difference, fro_norm over the whole map, abs and normalise off): for draws k = 1..S,
/// x_k = x + ε_k with ε_k ~ U(−r, r) on every input value (in the model's input space, after preprocessing), and
/// s_k = ‖Φ(x_k) − Φ(x)‖ / ‖Φ(x)‖ with Φ the method's map for the same target; max-sensitivity is max_k s_k and
/// avg-sensitivity the mean. Sample i's draws come from its own generator (seed, dataset index), one after another.
/// The perturbed copies go through the method in chunks of the job's batch size. A map that is zero everywhere gives NaN.
/// </summary>
public static class Sensitivity
{
    /// <param name="maps">The method's maps of <paramref name="batch"/>'s rows.</param>
    /// <returns>Per row: (max, mean) of the S ratios.</returns>
    public static (double[] Max, double[] Mean) Compute(MethodRerun run, MethodBatch batch, Tensor maps, SensitivitySpec spec, long seed)
    {
        var x = batch.Input;
        var n = (int)x.shape[0];
        var k = spec.Samples;
        long[] sampleShape = [.. x.shape.Skip(1)];
        var ratios = new double[n * k];
        var generators = TrustSeeds.Generators(seed, batch.Indices, TrustSeeds.Sensitivity);
        try
        {
            using var scope = NewDisposeScope();
            var norms = Norm(maps);
            norms = where(norms.IsZero(), norms.FullLike(double.NaN), norms); // a zero map has no sensitivity; rooted Scalars throughout (Scalars)
            for (var first = 0; first < n * k; first += batch.MaxRows)
            {
                var count = Math.Min(batch.MaxRows, n * k - first);
                using var chunk = NewDisposeScope(); // a chunk's noisy copies and maps go with it
                var rows = Enumerable.Range(first, count).Select(r => r / k).ToArray();
                var noise = stack(rows.Select(i => rand(sampleShape, generator: generators[i], dtype: float32).Times(2 * spec.Radius).Minus(spec.Radius)), 0);
                var index = tensor(rows.Select(i => (long)i).ToArray(), device: x.device);
                var noisy = x.index_select(0, index).Plus(noise.to(x.dtype).to(x.device));
                var perturbed = run.Maps(batch, rows, noisy, batch.Targets.index_select(0, index));
                var ratio = Norm(perturbed - maps.index_select(0, index)) / norms.index_select(0, index);
                ratio.cpu().data<double>().CopyTo(ratios.AsSpan(first, count));
            }
        }
        finally
        {
            foreach (var g in generators) g.Dispose();
        }
        var (max, mean) = (new double[n], new double[n]);
        for (var i = 0; i < n; i++)
        {
            var draws = ratios.AsSpan(i * k, k);
            (max[i], mean[i]) = (double.NegativeInfinity, 0);
            foreach (var r in draws) (max[i], mean[i]) = (Math.Max(max[i], r), mean[i] + r);
            if (double.IsNaN(mean[i])) max[i] = double.NaN; // a zero map: undefined
            mean[i] /= k;
        }
        return (max, mean);
    }

    /// <summary>The Frobenius norm of each row, [n] float64.</summary>
    private static Tensor Norm(Tensor maps) => maps.flatten(1).to(float64).Squared().sum(1).sqrt();
}
