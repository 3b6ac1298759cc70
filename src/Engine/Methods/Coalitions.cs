using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// The perturbation samplers of lime and kernel-shap: which segments each perturbed copy keeps, as masks
/// [n, m, K] of 0/1 (K the batch's largest segment count; the features k..K−1 of a sample with k segments are
/// absent, always 0). Each sample draws from its own generator seeded by (seed, dataset index), so its
/// coalitions do not depend on the batch or shard it lands in, nor on the other samples' k.
/// </summary>
public static class Coalitions
{
    /// <summary>
    /// lime_image's sampling: every feature on or off with probability ½, row 0 all on (the instance itself).
    /// Drawn on the model's device, one generator per sample.
    /// </summary>
    public static Tensor Uniform(BatchSegments segments, IReadOnlyList<long> indices, int samples, long seed, Device device)
    {
        var width = segments.MaxCount;
        var rows = new Tensor[segments.Counts.Length];
        for (var i = 0; i < rows.Length; i++)
        {
            using var generator = new Generator(SampleSeeds.For(seed, indices[i]), device);
            var k = segments.Counts[i];
            var drawn = randint(0, 2, [samples - 1, k], ScalarType.Float32, device, generator: generator);
            rows[i] = nn.functional.pad(cat([ones([1, k], ScalarType.Float32, device), drawn], 0), [0, width - k]);
        }
        return stack(rows, 0);
    }

    /// <summary>
    /// KernelSHAP's sampling (shap's KernelExplainer): coalition sizes by the Shapley kernel, whole sizes
    /// enumerated (with their complements) while the budget covers them, the rest drawn at random with
    /// repeats adding weight. Rows 0 and 1 are the full and the empty coalition (weight 0: the efficiency
    /// constraint holds them); samples with fewer rows are padded with weight-0 rows. Built on the host,
    /// uploaded once per batch.
    /// </summary>
    /// <returns>Masks [n, m, K] and kernel weights [n, m] (float64), on <paramref name="device"/>.</returns>
    /// <param name="counts">Each sample's number of players (segments, or a table's features).</param>
    public static (Tensor Masks, Tensor Weights) Shapley(int[] counts, IReadOnlyList<long> indices, int samples, long seed, Device device)
    {
        var n = counts.Length;
        var drawn = new ShapleySample[n];
        for (var i = 0; i < n; i++)
            drawn[i] = ShapleySample.Draw(counts[i], samples, new Random(unchecked((int)SampleSeeds.For(seed, indices[i]))));
        var width = counts.Max();
        var rows = 2 + drawn.Max(d => d.Weights.Count);
        var masks = new byte[(long)n * rows * width];
        var weights = new double[n * rows];
        for (var i = 0; i < n; i++)
        {
            var k = counts[i];
            masks.AsSpan(i * rows * width, k).Fill(1);
            for (var r = 0; r < drawn[i].Weights.Count; r++)
            {
                drawn[i].Masks[r].CopyTo(masks.AsSpan((i * rows + 2 + r) * width, k));
                weights[i * rows + 2 + r] = drawn[i].Weights[r];
            }
        }
        return (tensor(masks, [n, rows, width]).to(device).to(ScalarType.Float32), tensor(weights, [n, rows]).to(device));
    }

    /// <summary>One sample's coalitions of its k features (neither empty nor full) and their kernel weights.</summary>
    private sealed record ShapleySample(List<byte[]> Masks, List<double> Weights)
    {
        public static ShapleySample Draw(int k, int samples, Random random)
        {
            var result = new ShapleySample([], []);
            var left = (int)Math.Min(samples, k <= 30 ? (1L << k) - 2 : long.MaxValue);
            var sizes = k / 2; // ⌈(k − 1)/2⌉ coalition sizes, each with its complement's
            var paired = (k - 1) / 2;
            var kernel = new double[sizes];
            for (var s = 1; s <= sizes; s++) kernel[s - 1] = (k - 1.0) / (s * (k - s)) * (s <= paired ? 2 : 1);
            var total = kernel.Sum();
            for (var s = 0; s < sizes; s++) kernel[s] /= total;

            // Whole sizes first, smallest first, while the budget left covers every coalition of the size.
            var remaining = (double[])kernel.Clone();
            var full = 0;
            for (var s = 1; s <= sizes; s++)
            {
                var count = Binomial(k, s) * (s <= paired ? 2 : 1);
                if (left * remaining[s - 1] / count < 1 - 1e-8) break;
                full++;
                left -= (int)count;
                if (remaining[s - 1] < 1)
                {
                    var rest = 1 - remaining[s - 1];
                    for (var j = 0; j < sizes; j++) remaining[j] /= rest;
                }
                var weight = kernel[s - 1] / Binomial(k, s) / (s <= paired ? 2 : 1);
                foreach (var mask in Subsets(k, s))
                {
                    result.Add(mask, weight);
                    if (s <= paired) result.Add(Complement(mask), weight);
                }
            }
            if (full == sizes || left <= 0) return result;

            // The rest at random: a size by the kernel left, then a uniform coalition of that size.
            var fixedRows = result.Weights.Count;
            var odds = kernel.Skip(full).Select((w, j) => full + j < paired ? w / 2 : w).ToArray();
            var sum = odds.Sum();
            var seen = new Dictionary<string, int>();
            var order = Enumerable.Range(0, k).ToArray();
            var draws = 4 * left;
            for (var draw = 0; left > 0 && draw < draws; draw++)
            {
                var u = random.NextDouble() * sum;
                var pick = 0;
                while (pick < odds.Length - 1 && u >= odds[pick]) u -= odds[pick++];
                var size = pick + full + 1;
                // The first `size` places of a uniform random permutation (partial Fisher–Yates).
                for (var j = 0; j < size; j++)
                {
                    var swap = j + random.Next(k - j);
                    (order[j], order[swap]) = (order[swap], order[j]);
                }
                var mask = new byte[k];
                for (var j = 0; j < size; j++) mask[order[j]] = 1;
                var key = Convert.ToBase64String(mask);
                var isNew = !seen.TryGetValue(key, out var row);
                if (isNew)
                {
                    row = result.Weights.Count;
                    seen[key] = row;
                    result.Add(mask, 1);
                    left--;
                }
                else result.Weights[row] += 1;
                if (left > 0 && size <= paired)
                {
                    if (isNew)
                    {
                        result.Add(Complement(mask), 1);
                        left--;
                    }
                    else result.Weights[row + 1] += 1;
                }
            }
            var share = kernel.Skip(full).Sum() / result.Weights.Skip(fixedRows).Sum();
            for (var r = fixedRows; r < result.Weights.Count; r++) result.Weights[r] *= share;
            return result;
        }

        private void Add(byte[] mask, double weight)
        {
            Masks.Add(mask);
            Weights.Add(weight);
        }

        private static byte[] Complement(byte[] mask) => [.. mask.Select(b => (byte)(1 - b))];

        private static double Binomial(int n, int r)
        {
            var c = 1.0;
            for (var i = 1; i <= r; i++) c = c * (n - r + i) / i;
            return c;
        }

        /// <summary>Every subset of size <paramref name="size"/> of k features, in lexicographic order of its members.</summary>
        private static IEnumerable<byte[]> Subsets(int k, int size)
        {
            var members = Enumerable.Range(0, size).ToArray();
            while (true)
            {
                var mask = new byte[k];
                foreach (var j in members) mask[j] = 1;
                yield return mask;
                var i = size - 1;
                while (i >= 0 && members[i] == k - size + i) i--;
                if (i < 0) yield break;
                members[i]++;
                for (var j = i + 1; j < size; j++) members[j] = members[j - 1] + 1;
            }
        }
    }
}
