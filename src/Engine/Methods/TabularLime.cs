using ExplainCluster.Engine.Data.Tables;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// LIME over a table's features, as the lime package's LimeTabularExplainer with its defaults (quartile discretisation,
/// every feature then categorical): each numeric feature's quartiles, bins and per-bin mean, std and bounds, and each
/// categorical feature's level frequencies, from the data sample the selection pass chose (<see cref="Background"/>,
/// lime's training data; exact quantiles of that sample, numpy's linear interpolation). Each of <c>samples</c>
/// perturbed rows (row 0 the instance) draws every feature's bin or level by its frequency in the sample; a numeric
/// value is drawn within its bin from the normal of the bin's mean and std truncated to the bin's bounds (by
/// rejection, as scipy's truncnorm gives the same law; a bin whose bounds meet gives that value, where lime returns its
/// z-score). The surrogate's feature j is 1 where the row's bin (or level) is the instance's; the distance to the
/// instance is √(number of features that differ) (lime scales them by mean 0 and scale 1), weighted by
/// √exp(−d²/width²) with width 0.75·√d by default, and lime's ridge (α = 1, intercept) fits the target's probability
/// (or logit) on every feature. Maps: each feature's weight; columns <c>lime_r2</c> and <c>lime_intercept</c>.
/// </summary>
public sealed class TabularLime(int samples, double? kernelWidth, double alpha, bool probability, long seed, Subset training, int? maxRows) : IAttributionMethod
{
    public long? Seed => seed;

    public string Name => Lime.MethodName;

    public bool UsesSharedGradients => false;

    public Subset? Background => training;

    public IReadOnlyList<string> Columns { get; } = ["lime_r2", "lime_intercept"];

    public MethodOutput Attribute(MethodBatch batch)
    {
        var features = batch.Features ?? throw new InvalidOperationException("tabular lime needs the table's features");
        var sample = batch.Background ?? throw new InvalidOperationException("tabular lime needs the data sample");
        var k = features.Names.Length;
        var stats = Discretiser.Of(features, sample.cpu().data<float>().ToArray());
        var input = batch.Input.cpu().data<float>().ToArray();
        var n = (int)batch.Input.shape[0];
        var width = kernelWidth ?? 0.75 * Math.Sqrt(k);

        var binary = new float[n * samples * k];
        var weights = new double[n * samples];
        var outputs = new Tensor[n];
        for (var i = 0; i < n; i++)
        {
            var x = input.AsSpan(i * features.Width, features.Width);
            var rows = stats.Perturb(x, samples, new Random(unchecked((int)SampleSeeds.For(seed, batch.Indices[i]))), binary.AsSpan(i * samples * k, samples * k));
            for (var r = 0; r < samples; r++)
            {
                var differ = 0;
                for (var j = 0; j < k; j++) differ += binary[(i * samples + r) * k + j] == 0 ? 1 : 0;
                weights[i * samples + r] = Math.Sqrt(Math.Exp(-differ / (width * width)));
            }
            var perturbed = tensor(rows, [samples, features.Width]).to(batch.Input.device);
            outputs[i] = TargetGradients.Outputs(batch.Model, samples, (start, count) => perturbed.narrow(0, start, count),
                batch.Targets.narrow(0, i, 1).expand(samples), maxRows ?? batch.MaxRows, probability);
        }
        var device = batch.Input.device;
        var z = tensor(binary, [n, samples, k]).to(device);
        var y = stack(outputs, 0);
        var w = tensor(weights, [n, samples]).to(device);
        var (coef, intercept) = WeightedLeastSquares.Solve(z, y, w, zeros([n, k], ScalarType.Float64, device), alpha, intercept: true);
        var r2 = WeightedLeastSquares.WeightedR2(z, y, w, coef, intercept);
        return new MethodOutput(coef.to(ScalarType.Float32), [r2.to(ScalarType.Float32), intercept.to(ScalarType.Float32)]);
    }

    /// <summary>lime's training statistics of one data sample: per feature its values (bins or levels) with their frequencies.</summary>
    public sealed class Discretiser
    {
        private readonly FeatureGroups _features;
        private readonly Feature[] _stats;

        private Discretiser(FeatureGroups features, Feature[] stats) => (_features, _stats) = (features, stats);

        /// <summary>One feature: its values' frequencies (cumulative), and for a numeric one its quartile edges and each bin's mean, std and bounds.</summary>
        private sealed record Feature(int[] Values, double[] Cumulative, double[]? Edges, double[] Mean, double[] Std, double[] Min, double[] Max);

        /// <param name="rows">The sample's vectors [B, width], row-major.</param>
        public static Discretiser Of(FeatureGroups features, float[] rows)
        {
            var count = rows.Length / features.Width;
            var stats = new Feature[features.Names.Length];
            for (var f = 0; f < stats.Length; f++)
            {
                var column = new double[count];
                for (var r = 0; r < count; r++) column[r] = rows[r * features.Width + features.Offsets[f]];
                if (features.Categorical[f])
                {
                    var levels = Enumerable.Range(0, count).Select(r => Level(features, f, rows.AsSpan(r * features.Width, features.Width))).ToArray();
                    stats[f] = Frequencies(levels, null, [], [], [], []);
                    continue;
                }
                var sorted = column.Order().ToArray();
                var edges = new[] { 25.0, 50, 75 }.Select(p => Percentile(sorted, p)).Distinct().ToArray();
                var bins = column.Select(v => Bin(edges, v)).ToArray();
                var nb = edges.Length + 1;
                var (mean, std) = (new double[nb], new double[nb]);
                for (var b = 0; b < nb; b++)
                {
                    var inBin = column.Where((_, r) => bins[r] == b).ToArray();
                    mean[b] = inBin.Length == 0 ? 0 : inBin.Average();
                    std[b] = (inBin.Length == 0 ? 0 : Math.Sqrt(inBin.Average(v => (v - mean[b]) * (v - mean[b])))) + 1e-11; // as lime
                }
                stats[f] = Frequencies(bins, edges, mean, std, [sorted[0], .. edges], [.. edges, sorted[^1]]);
            }
            return new Discretiser(features, stats);
        }

        /// <summary>Feature f's bin (numeric) or level (categorical) in the vector <paramref name="x"/>.</summary>
        public int Value(int f, ReadOnlySpan<float> x) =>
            _stats[f].Edges is { } edges ? Bin(edges, x[_features.Offsets[f]]) : Level(_features, f, x);

        /// <summary>
        /// <paramref name="samples"/> perturbed vectors of <paramref name="x"/> (row 0: x itself), row-major; each row's
        /// surrogate features (1: the feature's bin or level is x's) into <paramref name="binary"/> [samples, features].
        /// </summary>
        public float[] Perturb(ReadOnlySpan<float> x, int samples, Random random, Span<float> binary)
        {
            var (width, k) = (_features.Width, _stats.Length);
            var rows = new float[samples * width];
            x.CopyTo(rows);
            binary[..k].Fill(1);
            var own = new int[k];
            for (var f = 0; f < k; f++) own[f] = Value(f, x);
            for (var r = 1; r < samples; r++)
            {
                var row = rows.AsSpan(r * width, width);
                for (var f = 0; f < k; f++)
                {
                    var s = _stats[f];
                    var u = random.NextDouble();
                    var pick = 0;
                    while (pick < s.Values.Length - 1 && u >= s.Cumulative[pick]) pick++;
                    var value = s.Values[pick];
                    binary[r * k + f] = value == own[f] ? 1 : 0;
                    var at = _features.Offsets[f];
                    if (s.Edges is not null) row[at] = (float)Truncated(random, s.Mean[value], s.Std[value], s.Min[value], s.Max[value]);
                    else if (_features.Widths[f] > 1) row[at + value] = 1; // one-hot
                    else row[at] = value;                                  // the level's index
                }
            }
            return rows;
        }

        private static Feature Frequencies(int[] values, double[]? edges, double[] mean, double[] std, double[] min, double[] max)
        {
            var counts = values.GroupBy(v => v).OrderBy(g => g.Key).Select(g => (g.Key, Count: g.Count())).ToArray();
            var cumulative = new double[counts.Length];
            for (var c = 0; c < counts.Length; c++) cumulative[c] = (c == 0 ? 0 : cumulative[c - 1]) + counts[c].Count / (double)values.Length;
            return new Feature([.. counts.Select(c => c.Key)], cumulative, edges, mean, std, min, max);
        }

        /// <summary>A categorical feature's level: the hot element of a one-hot group, or the index's value.</summary>
        private static int Level(FeatureGroups features, int f, ReadOnlySpan<float> x)
        {
            var group = x.Slice(features.Offsets[f], features.Widths[f]);
            if (group.Length == 1) return (int)MathF.Round(group[0]);
            var hot = 0;
            for (var l = 1; l < group.Length; l++) if (group[l] > group[hot]) hot = l;
            return hot;
        }

        /// <summary>numpy's searchsorted (left): the number of edges below v.</summary>
        private static int Bin(double[] edges, double v)
        {
            var b = 0;
            while (b < edges.Length && edges[b] < v) b++;
            return b;
        }

        /// <summary>numpy's percentile (linear interpolation) of sorted values.</summary>
        public static double Percentile(double[] sorted, double p)
        {
            var position = p / 100 * (sorted.Length - 1);
            var low = (int)Math.Floor(position);
            return low + 1 >= sorted.Length ? sorted[^1] : sorted[low] + (sorted[low + 1] - sorted[low]) * (position - low);
        }

        /// <summary>The normal (mean, std) truncated to [min, max], by rejection; the bound itself when the bounds meet.</summary>
        private static double Truncated(Random random, double mean, double std, double min, double max)
        {
            if (min >= max) return min;
            for (var attempt = 0; attempt < 10_000; attempt++)
            {
                var v = mean + std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
                if (v >= min && v <= max) return v;
            }
            return Math.Clamp(mean, min, max); // a bin whose normal lies almost wholly outside it (never seen with quartile bins)
        }
    }
}
