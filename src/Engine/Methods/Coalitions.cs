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
    /// constraint holds them); samples with fewer rows are padded with weight-0 rows. Built on the host.
    /// </summary>
    /// <returns>Masks [n, m, K] and kernel weights [n, m], row-major.</returns>
    /// <param name="counts">Each sample's number of players (segments, or a table's features).</param>
    public static (CoalitionMasks Masks, double[] Weights) Shapley(int[] counts, IReadOnlyList<long> indices, int samples, long seed)
    {
        var n = counts.Length;
        var drawn = new ShapleySample[n];
        var whole = new Dictionary<int, ShapleySample.Whole>(); // the enumerated sizes: the same for every sample with k players
        for (var i = 0; i < n; i++)
        {
            if (!whole.TryGetValue(counts[i], out var enumerated)) whole[counts[i]] = enumerated = ShapleySample.Enumerate(counts[i], samples);
            drawn[i] = ShapleySample.Draw(enumerated, new Random(unchecked((int)SampleSeeds.For(seed, indices[i]))));
        }
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
        return (new CoalitionMasks(masks, n, rows, width), weights);
    }

    /// <summary>One sample's coalitions of its k features (neither empty nor full) and their kernel weights.</summary>
    private sealed record ShapleySample(List<byte[]> Masks, List<double> Weights)
    {
        /// <summary>The coalitions of the sizes enumerated whole for k players and a budget, and what is left to draw.</summary>
        public sealed record Whole(int K, byte[][] Masks, double[] Weights, double[] Kernel, int Full, int Left);

        /// <summary>Whole sizes first, smallest first, while the budget left covers every coalition of the size.</summary>
        public static Whole Enumerate(int k, int samples)
        {
            var result = new ShapleySample([], []);
            var left = (int)Math.Min(samples, k <= 30 ? (1L << k) - 2 : long.MaxValue);
            var sizes = k / 2; // ⌈(k − 1)/2⌉ coalition sizes, each with its complement's
            var paired = (k - 1) / 2;
            var kernel = new double[sizes];
            for (var s = 1; s <= sizes; s++) kernel[s - 1] = (k - 1.0) / (s * (k - s)) * (s <= paired ? 2 : 1);
            var total = kernel.Sum();
            for (var s = 0; s < sizes; s++) kernel[s] /= total;

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
            return new Whole(k, [.. result.Masks], [.. result.Weights], kernel, full, left);
        }

        /// <summary>A sample's coalitions: the enumerated sizes, then the rest drawn with its own generator.</summary>
        public static ShapleySample Draw(Whole whole, Random random)
        {
            var result = new ShapleySample([.. whole.Masks], [.. whole.Weights]);
            var (k, kernel, full, left) = (whole.K, whole.Kernel, whole.Full, whole.Left);
            var (sizes, paired) = (k / 2, (k - 1) / 2);
            if (full == sizes || left <= 0) return result;

            // The rest at random: a size by the kernel left, then a uniform coalition of that size.
            var fixedRows = result.Weights.Count;
            var odds = kernel.Skip(full).Select((w, j) => full + j < paired ? w / 2 : w).ToArray();
            var sum = odds.Sum();
            var seen = new Dictionary<string, int>();
            var seenBits = new Dictionary<ulong, int>();
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
                // A coalition of at most 64 players is keyed by its bits, a larger one by its bytes.
                var bits = 0UL;
                if (k <= 64) for (var j = 0; j < size; j++) bits |= 1UL << order[j];
                var mask = k <= 64 ? null : Mask(order, size, k);
                var key = mask is null ? null : Convert.ToBase64String(mask);
                var isNew = key is null ? !seenBits.TryGetValue(bits, out var row) : !seen.TryGetValue(key, out row);
                if (isNew)
                {
                    row = result.Weights.Count;
                    if (key is null) seenBits[bits] = row;
                    else seen[key] = row;
                    mask ??= Mask(order, size, k);
                    result.Add(mask, 1);
                    left--;
                }
                else result.Weights[row] += 1;
                if (left > 0 && size <= paired)
                {
                    if (isNew)
                    {
                        result.Add(Complement(mask!), 1);
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

        /// <summary>The coalition of the first <paramref name="size"/> players of <paramref name="order"/>.</summary>
        private static byte[] Mask(int[] order, int size, int k)
        {
            var mask = new byte[k];
            for (var j = 0; j < size; j++) mask[order[j]] = 1;
            return mask;
        }

        private static byte[] Complement(byte[] mask)
        {
            var complement = new byte[mask.Length];
            for (var j = 0; j < mask.Length; j++) complement[j] = (byte)(1 - mask[j]);
            return complement;
        }

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

/// <summary>A batch's coalitions on the host: [n, m, K] 0/1 (K the batch's largest player count; padding players 0).</summary>
public sealed record CoalitionMasks(byte[] Masks, int Samples, int Rows, int Players)
{
    /// <summary>Sample i's coalitions [m, K], row-major.</summary>
    public ReadOnlyMemory<byte> Of(int i) => Masks.AsMemory(i * Rows * Players, Rows * Players);

    /// <summary>The masks as a float tensor [n, m, K] on <paramref name="device"/>.</summary>
    public Tensor ToTensor(Device device) => tensor(Masks, [Samples, Rows, Players]).to(device).to(ScalarType.Float32);
}
