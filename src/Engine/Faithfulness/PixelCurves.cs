using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>
/// Deletion and insertion curves of an ordering of the pixels. Step k of S replaces the first
/// round(k·H·W/S) pixels of the ordering, all channels: deletion sets them to the baseline in x, insertion
/// copies them from x into the baseline image. p_k is the softmax probability of the target class and
/// AUC = (Σ_{k=0..S} p_k − (p_0 + p_S)/2) / S (the trapezoid rule over [0, 1]).
/// </summary>
public sealed class PixelCurves(int steps, double baseline, int maxRows)
{
    public int Steps => steps;

    /// <summary>
    /// How many pixels step k replaces, k = 0..S: round(k·pixels/S) with halves to even (numpy's and Python's
    /// round), in exact integer arithmetic.
    /// </summary>
    public static long[] Counts(long pixels, int steps)
    {
        var counts = new long[steps + 1];
        for (var k = 0; k <= steps; k++)
        {
            var (whole, rest) = Math.DivRem(k * pixels, steps);
            var up = 2 * rest > steps || (2 * rest == steps && whole % 2 == 1);
            counts[k] = up ? whole + 1 : whole;
        }
        return counts;
    }

    /// <summary>Pixel indices (row-major) by score, highest first, ties by the lower index: [n, H·W] int64.</summary>
    public static Tensor Order(Tensor scores) =>
        scores.flatten(1).sort(1, descending: true, stable: true).Indices;

    /// <summary>A random ordering per sample, seeded from its dataset index so that sharding changes nothing.</summary>
    public static Tensor RandomOrder(IReadOnlyList<long> indices, long seed, long pixels, Device device)
    {
        var orders = new Tensor[indices.Count];
        for (var i = 0; i < orders.Length; i++)
        {
            using var generator = new Generator(SampleSeeds.For(seed, indices[i]), CPU);
            orders[i] = randperm(pixels, generator: generator);
        }
        return stack(orders).to(device);
    }

    /// <summary>The curves of each row of <paramref name="x"/> under its ordering: [n, S+1] float64 each.</summary>
    /// <param name="x">[n, C, H, W] or [n, H, W], as the model takes it.</param>
    /// <param name="targets">[n] int64.</param>
    /// <param name="order">[n, H·W] int64, from <see cref="Order"/> or <see cref="RandomOrder"/>.</param>
    public (Tensor Deletion, Tensor Insertion) Curves(ExplainModel model, Tensor x, Tensor targets, Tensor order)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (n, points) = (x.shape[0], steps + 1L);
        var pixels = order.shape[1];
        var device = x.device;
        // rank[i, p]: the position of pixel p in sample i's ordering; step k replaces the pixels ranked below counts[k].
        var rank = zeros_like(order).scatter_(1, order, Scalars.Range(0, pixels, device: device).expand(n, pixels).contiguous()); // rooted Scalars throughout (Scalars)
        var counts = tensor(Counts(pixels, steps), device: device);
        // Rows of the evaluation: deletion then insertion, each sample's S+1 steps together.
        var rows = 2 * n * points;
        var row = Scalars.Range(0, rows, device: device);
        var insertion = row.GreaterOrEqual(n * points);
        var sample = row.Modulo(n * points).FloorDivided(points);
        var step = row.Modulo(points);
        Tensor maskShape(Tensor m, long count) => x.dim() == 4 ? m.view(count, 1, x.shape[^2], x.shape[^1]) : m.view(count, x.shape[^2], x.shape[^1]);

        var probabilities = new List<Tensor>();
        for (long start = 0; start < rows; start += maxRows)
        {
            var count = Math.Min(maxRows, rows - start);
            using var chunk = NewDisposeScope(); // a chunk's masked images go with it; only its probabilities stay
            var s = sample.narrow(0, start, count);
            var replaced = rank.index_select(0, s) < counts.index_select(0, step.narrow(0, start, count)).unsqueeze(1);
            // Deletion keeps x where a pixel is not replaced yet; insertion keeps x where it is.
            var keep = maskShape(replaced.eq(insertion.narrow(0, start, count).unsqueeze(1)), count);
            var xs = x.index_select(0, s);
            var images = where(keep, xs, xs.FullLike(baseline));
            var logits = model.Forward(model.PrepareInput(images));
            var log = nn.functional.log_softmax(logits.to(float64), 1);
            probabilities.Add(log.gather(1, targets.index_select(0, s).unsqueeze(1)).squeeze(1).exp().MoveToOuterDisposeScope());
        }
        var p = cat(probabilities, 0).view(2, n, points);
        return (p[0].MoveToOuterDisposeScope(), p[1].MoveToOuterDisposeScope());
    }

    /// <summary>AUC per row of [n, S+1] curves: (Σ p_k − (p_0 + p_S)/2) / S.</summary>
    public static Tensor Auc(Tensor curves)
    {
        var s = curves.shape[1] - 1;
        return (curves.sum(1) - curves.select(1, 0).Plus(curves.select(1, s)).DividedBy(2)).DividedBy(s); // rooted Scalars (Scalars)
    }
}
