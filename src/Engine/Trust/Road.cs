using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Methods;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// ROAD, remove and debias (Rong et al. 2022), as pytorch-grad-cam's ROADMostRelevantFirstAverage,
/// ROADLeastRelevantFirstAverage and ROADCombined: at each percentage p of the pixels (10, 20, …, 90 by default) the p %
/// most relevant pixels (MoRF) or the p % least relevant (LeRF) are removed, all channels, and filled in by noisy linear
/// imputation (<see cref="Impute"/>); the score is the target's softmax probability on the imputed image, averaged over
/// the percentages: <c>road_morf</c> (lower is better), <c>road_lerf</c> (higher is better) and
/// <c>road</c> = (LeRF − MoRF)/2 (ROADCombined; higher is better). Pixels are ranked as deletion/insertion rank them (the map
/// summed over channels, highest first, ties to the lower index) and round(p·H·W/100) of them are removed (halves to
/// even), where pytorch-grad-cam thresholds at the map's percentile (its MoRF at p removes the pixels at or above the
/// p-th percentile, so its averages over 10..90 cover the same fractions). Sample i's noise comes from its own generator
/// (seed, dataset index): for each percentage in order, MoRF then LeRF, one N(0, 1) draw of the input's shape, of which
/// the removed pixels take σ times theirs. The imputed images go through the model in chunks of the job's batch size.
/// </summary>
public static class Road
{
    /// <summary>pytorch-grad-cam's (and the paper's) neighbour weights: 1/6 for the four direct neighbours, 1/12 for the diagonals.</summary>
    private static readonly (int Dy, int Dx, double W)[] Neighbours =
        [(1, 1, 1 / 12.0), (0, 1, 1 / 6.0), (-1, 1, 1 / 12.0), (1, -1, 1 / 12.0), (0, -1, 1 / 6.0), (-1, -1, 1 / 12.0), (1, 0, 1 / 6.0), (-1, 0, 1 / 6.0)];

    /// <param name="maps">The method's maps of <paramref name="batch"/>'s rows.</param>
    /// <returns>Per row: the mean over the percentages of the target's probability after MoRF and after LeRF removal.</returns>
    public static (double[] Morf, double[] Lerf) Compute(MethodBatch batch, Tensor maps, RoadSpec spec, long seed)
    {
        var x = batch.Input;
        var n = (int)x.shape[0];
        var percentiles = spec.Percentiles;
        var perSample = 2 * percentiles.Length;
        var probabilities = new double[n * perSample];
        var pixels = x.shape[^2] * x.shape[^1];
        var counts = PixelCurves.Counts(pixels, 100);
        long[] sampleShape = [.. x.shape.Skip(1)];
        var generators = TrustSeeds.Generators(seed, batch.Indices, TrustSeeds.Road);
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var order = PixelCurves.Order(PixelScores.For(maps, x));
            var rank = zeros_like(order).scatter_(1, order, Scalars.Range(0, pixels, device: x.device).expand(n, pixels).contiguous()); // rooted Scalars throughout (Scalars)
            for (var first = 0; first < n * perSample; first += batch.MaxRows)
            {
                var count = Math.Min(batch.MaxRows, n * perSample - first);
                using var chunk = NewDisposeScope();
                // Row r is sample r / (2P), percentage (r mod 2P) / 2, MoRF when r is even.
                var rows = Enumerable.Range(first, count).ToArray();
                var sample = tensor(rows.Select(r => (long)(r / perSample)).ToArray(), device: x.device);
                var removedCount = tensor(rows.Select(r => counts[percentiles[r % perSample / 2]]).ToArray(), device: x.device).unsqueeze(1);
                var morf = tensor(rows.Select(r => r % 2 == 0).ToArray(), device: x.device).unsqueeze(1);
                var ranks = rank.index_select(0, sample);
                var removed = where(morf, ranks < removedCount, ranks >= removedCount.SubtractedFrom(pixels)).view(count, x.shape[^2], x.shape[^1]);
                var noise = stack(rows.Select(r => randn(sampleShape, generator: generators[r / perSample], dtype: float32)), 0).to(x.device);
                var xs = x.index_select(0, sample);
                var imputed = Impute(xs, removed, noise.Times(spec.Noise));
                var logits = batch.Model.Forward(batch.Model.PrepareInput(imputed));
                var log = nn.functional.log_softmax(logits.to(float64), 1);
                log.gather(1, batch.Targets.index_select(0, sample).unsqueeze(1)).squeeze(1).exp().cpu().data<double>().CopyTo(probabilities.AsSpan(first, count));
            }
        }
        finally
        {
            foreach (var g in generators) g.Dispose();
        }
        var (morfMean, lerfMean) = (new double[n], new double[n]);
        for (var i = 0; i < n; i++)
        {
            for (var p = 0; p < percentiles.Length; p++)
            {
                morfMean[i] += probabilities[i * perSample + 2 * p];
                lerfMean[i] += probabilities[i * perSample + 2 * p + 1];
            }
            (morfMean[i], lerfMean[i]) = (morfMean[i] / percentiles.Length, lerfMean[i] / percentiles.Length);
        }
        return (morfMean, lerfMean);
    }

    /// <summary>
    /// Noisy linear imputation (pytorch-grad-cam's NoisyLinearImputer): each removed pixel, in each channel, becomes the
    /// weighted mean of its neighbours inside the image (weights renormalised by those present), removed neighbours being
    /// unknowns too: the sparse system pytorch-grad-cam solves with spsolve, solved here for every row at once by conjugate
    /// gradients in float64 (the system is symmetric and positive definite; each row stops on its own when its residual is
    /// below 1e-8 of its right-hand side's, far below the noise; the same rows in the same chunk give the same bits), then
    /// <paramref name="noise"/> is added at the removed pixels.
    /// </summary>
    /// <param name="x">[n, C, H, W] or [n, H, W].</param>
    /// <param name="removed">[n, H, W] bool.</param>
    /// <param name="noise">Shaped as <paramref name="x"/>; what the removed pixels add to their imputed value.</param>
    public static Tensor Impute(Tensor x, Tensor removed, Tensor noise)
    {
        using var scope = NewDisposeScope();
        var planar = x.dim() == 3 ? x.unsqueeze(1) : x;
        var (n, height, width) = (planar.shape[0], planar.shape[2], planar.shape[3]);
        var values = planar.to(float64);
        var mask = removed.unsqueeze(1).to(float64).expand_as(values);
        var sum = Neighbourhood(ones(1, 1, height, width, dtype: float64, device: x.device)); // Σ of the weights inside the image
        Tensor Apply(Tensor z) => mask * (sum * z - Neighbourhood(z));
        static Tensor Dot(Tensor a, Tensor b) => (a * b).flatten(1).sum(1);
        var b = mask * Neighbourhood(values * mask.OneMinus());
        var z = zeros_like(values);
        var r = b.clone();
        var p = r.clone();
        var rr = Dot(r, r);
        var tolerance = rr.Times(1e-16);
        var size = (int)(values.numel() / n);
        for (var iteration = 0; iteration < size + 10; iteration++)
        {
            var active = (rr > tolerance).to(float64);
            if (active.sum().item<double>() == 0) break;
            var ap = Apply(p);
            var pap = Dot(p, ap);
            var alpha = (active * rr / where(pap.IsPositive(), pap, ones_like(pap))).view(n, 1, 1, 1);
            z = z.Plus(alpha * p);
            r = r - alpha * ap;
            var next = Dot(r, r);
            var beta = (active * next / where(rr.IsPositive(), rr, ones_like(rr))).view(n, 1, 1, 1);
            p = r.Plus(beta * p);
            rr = (active * next).Plus(active.OneMinus() * rr);
        }
        var filled = where(mask.IsPositive(), z.Plus(noise.view_as(planar).to(float64)), values).to(x.dtype);
        return (x.dim() == 3 ? filled.squeeze(1) : filled).MoveToOuterDisposeScope();
    }

    /// <summary>Σ over the neighbours of w · z(neighbour), zero outside the image: [n, C, H, W], as one 3 × 3 convolution per plane.</summary>
    private static Tensor Neighbourhood(Tensor z)
    {
        var kernel = zeros(3, 3, dtype: float64);
        foreach (var (dy, dx, w) in Neighbours) kernel[1 + dy, 1 + dx] = w;
        var planes = z.reshape(-1, 1, z.shape[2], z.shape[3]);
        return nn.functional.conv2d(planes, kernel.view(1, 1, 3, 3).to(z.device), padding: [1, 1]).view_as(z);
    }
}
