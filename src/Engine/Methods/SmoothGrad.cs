using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// SmoothGrad (Smilkov et al. 2017) and its variants, as Captum's NoiseTunnel: the wrapped method on
/// <c>samples</c> noisy copies x + ε, ε ~ N(0, σ²), σ = <c>stdev</c> · (max − min) of each sample; then the mean
/// (smoothgrad), the mean of squares (smoothgrad_sq) or the variance (vargrad). The noise is drawn per
/// sample from a generator seeded by (seed, dataset index), one copy after another, so it does not depend
/// on the batch or shard a sample is in.
/// </summary>
public sealed class SmoothGrad(IInputAttribution inner, int samples, double stdev, string type, long seed, int? maxRows) : IAttributionMethod
{
    public const string MethodName = "smooth-grad";

    public long? Seed => seed;
    public static readonly string[] Types = ["smoothgrad", "smoothgrad_sq", "vargrad"];

    public string Name => MethodName;

    public bool DifferentiatesInput => true;

    public bool UsesSharedGradients => false;

    public MethodOutput Attribute(MethodBatch batch)
    {
        var x = batch.Input.contiguous();
        var n = x.shape[0];
        long[] sampleShape = [.. x.shape.Skip(1)];
        var sigma = (x.flatten(1).amax(1) - x.flatten(1).amin(1)).Times(stdev); // rooted Scalars throughout (Scalars)
        sigma = sigma.view([n, .. Enumerable.Repeat(1L, sampleShape.Length)]);
        var generators = batch.Indices.Select(i => new Generator(SampleSeeds.For(seed, i), x.device)).ToArray();
        try
        {
            var sum = zeros_like(x);
            var squares = zeros_like(x);
            var perChunk = (int)Math.Max(1, (maxRows ?? batch.MaxRows) / n);
            for (var first = 0; first < samples; first += perChunk)
            {
                var k = Math.Min(perChunk, samples - first);
                using var chunk = NewDisposeScope(); // a chunk's noisy copies and maps go with it; the sums accumulate in place
                // Row i·k + j is sample i's copy first + j.
                var noise = stack(generators.SelectMany(g => Enumerable.Range(0, k).Select(_ => randn(sampleShape, generator: g, device: x.device))), 0);
                var noisy = x.repeat_interleave(k, 0).Plus(noise * sigma.repeat_interleave(k, 0));
                var maps = inner.AttributeAt(batch, noisy, batch.Targets.repeat_interleave(k));
                var perSample = maps.view([n, k, .. sampleShape]); // every wrapped method's map is input-shaped
                sum.Accumulate(perSample.sum(1)); // in place: the sums outlive the chunk
                if (type != "smoothgrad") squares.Accumulate(perSample.Squared().sum(1));
            }
            var mean = sum.DividedBy(samples);
            return type switch
            {
                "smoothgrad_sq" => squares.DividedBy(samples),
                "vargrad" => squares.DividedBy(samples) - mean.Squared(),
                _ => mean,
            };
        }
        finally
        {
            foreach (var g in generators) g.Dispose();
        }
    }
}
