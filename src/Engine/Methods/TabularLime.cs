using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using ExplainCluster.Engine.Data.Tables;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// LIME over a table's features, as the lime package's LimeTabularExplainer with its defaults (quartile discretisation,
/// every feature then categorical): each numeric feature's quartiles, bins and per-bin mean, std and bounds, and each
/// categorical feature's level frequencies, from the data sample the selection pass chose (<see cref="Background"/>,
/// lime's training data; exact quantiles of that sample, numpy's linear interpolation). Each of <c>samples</c>
/// perturbed rows (row 0 the instance) draws every feature's bin or level by its frequency in the sample; a numeric
/// value is drawn within its bin from the normal of the bin's mean and std truncated to the bin's bounds (scipy's
/// truncnorm, by its quantiles on a grid of 1/1024, so within 0.001 of its CDF; a bin whose bounds meet gives that value,
/// where lime returns its z-score). One uniform per row and feature, from the sample's own SplitMix64 stream (seeded by
/// seed and dataset index), makes both draws, in one pass over a reused array. The surrogate's feature j is 1 where the
/// row's bin (or level) is the instance's; the distance to the instance is √(number of features that differ) (lime
/// scales them by mean 0 and scale 1), weighted by
/// √exp(−d²/width²) with width 0.75·√d by default, and lime's ridge (α = 1, intercept) fits the target's probability
/// (or logit) on every feature. Maps: each feature's weight; columns <c>lime_r2</c> and <c>lime_intercept</c>.
/// </summary>
public sealed class TabularLime(int samples, double? kernelWidth, double alpha, bool probability, long seed, Subset training, int? maxRows,
    Tabular.SpPickSpec? pick = null, bool shared = false) : IAttributionMethod
{
    /// <summary>
    /// The dataset index whose stream draws the shared perturbations (<c>"perturbations": "shared"</c>): none is negative, so
    /// the shared set is no row's own.
    /// </summary>
    public const long SharedStream = -1;

    /// <summary>SP-LIME's pick over the rows this method explains (<see cref="Tabular.SpLimeFeature"/>); null when off.</summary>
    public Tabular.SpPickSpec? Pick => pick;

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
        var stats = Statistics(features, sample.cpu().data<float>().ToArray());
        var input = batch.Input.cpu().data<float>().ToArray();
        var n = (int)batch.Input.shape[0];
        var width = kernelWidth ?? 0.75 * Math.Sqrt(k);

        var words = (k + 63) / 64;
        var agree = new ulong[n * samples * words]; // each row's surrogate features as bits: its bin or level is the instance's
        var picks = new int[samples * k];
        var outputs = new Tensor[n];
        if (shared)
            Shared(batch, stats, input, n, k, picks, agree, outputs);
        else
        {
            // Each row's perturbations a chunk at a time, drawn into one reused buffer just before its forward (the chunks
            // of a forward over all of them, from the same stream: the same rows as drawing them at once).
            var budget = maxRows ?? batch.MaxRows;
            using var buffer = empty([Math.Min(budget, samples), features.Width], ScalarType.Float32);
            for (var i = 0; i < n; i++)
            {
                var stream = SampleSeeds.For(seed, batch.Indices[i]);
                var x = input.AsMemory(i * features.Width, features.Width);
                outputs[i] = TargetGradients.Outputs(batch.Model, samples, (start, count) =>
                {
                    var random = StreamUniforms.At(stream, Math.Max(start - 1, 0) * k);
                    stats.Draw(x.Span, (int)start, (int)count, ref random, MemoryMarshal.Cast<byte, float>(buffer.bytes), picks);
                    return buffer.narrow(0, 0, count);
                }, batch.Targets.narrow(0, i, 1).expand(samples), budget, probability);
                stats.Agreement(x.Span, picks, samples, agree.AsSpan(i * samples * words, samples * words));
            }
        }
        var y = stack(outputs, 0).cpu().data<float>().ToArray();

        // The surrogate from each row's sums (the 0/1 features, the kernel √exp(−d²/width²) with d² the features that differ,
        // the target), accumulated on the host; then lime's ridge on every row's normal equations at once, and each row's R².
        var kernel = new double[k + 1];
        for (var same = 0; same <= k; same++) kernel[same] = Math.Sqrt(Math.Exp((same - k) / (width * width)));
        var w = new double[n * samples];
        var grams = new WeightedGram[n];
        for (var i = 0; i < n; i++)
        {
            for (var r = 0; r < samples; r++)
            {
                var same = 0;
                foreach (var word in agree.AsSpan((i * samples + r) * words, words)) same += System.Numerics.BitOperations.PopCount(word);
                w[i * samples + r] = kernel[same];
            }
            grams[i] = WeightedGram.OfBits(k, agree.AsSpan(i * samples * words, samples * words), w.AsSpan(i * samples, samples), y.AsSpan(i * samples, samples));
        }
        var device = batch.Input.device;
        var (coef, intercept) = WeightedLeastSquares.Solve(grams, new double[n * k], alpha, intercept: true, device);
        var (beta, b) = (coef.cpu().data<double>().ToArray(), intercept.cpu().data<double>().ToArray());
        var r2 = new double[n];
        for (var i = 0; i < n; i++)
            r2[i] = WeightedLeastSquares.WeightedR2(grams[i], agree.AsSpan(i * samples * words, samples * words), words, y.AsSpan(i * samples, samples),
                w.AsSpan(i * samples, samples), beta.AsSpan(i * k, k), b[i]);
        return new MethodOutput(coef.to(ScalarType.Float32), [tensor(r2).to(device).to(ScalarType.Float32), intercept.to(ScalarType.Float32)]);
    }

    /// <summary>
    /// lime's training statistics of the batch's data sample: the same sample in every batch of a job, so the last one's are
    /// kept and reused while the sample's values are the same (methods run on several model-host threads: the pair is swapped whole).
    /// </summary>
    private Discretiser Statistics(FeatureGroups features, float[] sample)
    {
        if (Volatile.Read(ref _statistics) is { } last && last.Features == features && last.Sample.AsSpan().SequenceEqual(sample)) return last.Stats;
        var stats = Discretiser.Of(features, sample);
        Volatile.Write(ref _statistics, new KeptStatistics(features, sample, stats));
        return stats;
    }

    private KeptStatistics? _statistics;

    private sealed record KeptStatistics(FeatureGroups Features, float[] Sample, Discretiser Stats);

    /// <summary>
    /// <c>"perturbations": "shared"</c>: one set of perturbed rows for the whole job (the stream of <see cref="SharedStream"/>,
    /// drawn from the same training statistics), run through the model once per batch for every class; each row of the batch
    /// takes its own output as row 0 and its target's column for the rest, and its surrogate features from the drawn bins
    /// against its own. lime's perturbations depend on the instance only through row 0, so each row's explanation is lime's
    /// with that stream; what the rows share is one Monte Carlo sample (their errors are correlated).
    /// </summary>
    private void Shared(MethodBatch batch, Discretiser stats, float[] input, int n, int k, int[] picks, ulong[] agree, Tensor[] outputs)
    {
        var random = new StreamUniforms(SampleSeeds.For(seed, SharedStream));
        var rows = new float[samples * stats.Width];
        stats.Perturb(input.AsSpan(0, stats.Width), samples, ref random, rows, default, picks);
        using var perturbed = tensor(rows, [samples, stats.Width]).narrow(0, 1, samples - 1).to(batch.Input.device);
        var budget = maxRows ?? batch.MaxRows;
        using var noGrad = no_grad();
        var chunks = new List<Tensor>();
        for (long start = 0; start < samples - 1; start += budget)
        {
            using var chunk = NewDisposeScope();
            var logits = batch.Model.Forward(batch.Model.PrepareInput(perturbed.narrow(0, start, Math.Min(budget, samples - 1 - start))));
            chunks.Add((probability ? nn.functional.softmax(logits, 1) : logits).MoveToOuterDisposeScope());
        }
        using var all = cat(chunks, 0); // [samples − 1, classes]
        foreach (var c in chunks) c.Dispose();
        // Each row's own output alone (a forward of one row), so that it does not depend on which rows share its batch.
        var own = cat([.. Enumerable.Range(0, n).Select(i => batch.Model.Forward(batch.Model.PrepareInput(batch.Input.narrow(0, i, 1))))], 0);
        var instance = (probability ? nn.functional.softmax(own, 1) : own).gather(1, batch.Targets.unsqueeze(1)); // [n, 1]
        var columns = all.index_select(1, batch.Targets).t(); // [n, samples − 1]
        var y = cat([instance, columns], 1);
        var words = (k + 63) / 64;
        for (var i = 0; i < n; i++)
        {
            outputs[i] = y[i];
            stats.Agreement(input.AsSpan(i * stats.Width, stats.Width), picks, samples, agree.AsSpan(i * samples * words, samples * words));
        }
    }

    /// <summary>lime's training statistics of one data sample: per feature its values (bins or levels) with their frequencies.</summary>
    public sealed class Discretiser
    {
        private readonly FeatureGroups _features;
        private readonly Feature[] _stats;

        private Discretiser(FeatureGroups features, Feature[] stats)
        {
            (_features, _stats) = (features, stats);
            var k = stats.Length;
            (_kind, _at, _first, _last) = (new int[k], new int[k], new int[k], new int[k]);
            var picks = stats.Sum(s => s.Values.Length);
            (_cut, _value, _from, _scale, _tableAt) = (new double[picks], new int[picks], new double[picks], new double[picks], new int[picks]);
            var tables = new List<double>();
            for (int f = 0, p = 0; f < k; f++)
            {
                var s = stats[f];
                var quantiles = s.Edges is null ? null : Quantiles(s.Mean, s.Std, s.Min, s.Max); // per bin, on the grid of Grid
                _kind[f] = quantiles is not null ? Numeric : features.Widths[f] > 1 ? OneHot : Index;
                _at[f] = features.Offsets[f];
                (_first[f], _last[f]) = (p, p + s.Values.Length - 1);
                for (var q = 0; q < s.Values.Length; q++, p++)
                {
                    // The pick's interval of u: its start, and Grid over its width (the last pick's ends at 1).
                    var from = q == 0 ? 0 : s.Cumulative[q - 1];
                    (_cut[p], _value[p], _from[p]) = (s.Cumulative[q], s.Values[q], from);
                    _scale[p] = Grid / ((q == s.Values.Length - 1 ? 1 : s.Cumulative[q]) - from);
                    if (quantiles is null) continue;
                    _tableAt[p] = tables.Count;
                    tables.AddRange(quantiles[s.Values[q]]);
                }
            }
            _table = [.. tables];
        }

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
        /// lime's surrogate features of drawn rows as bits, (K + 63) / 64 words a row: feature f of row r is set where its pick
        /// (<paramref name="picks"/> [samples, K]) is <paramref name="x"/>'s bin or level; row 0, the instance, has every feature.
        /// </summary>
        public void Agreement(ReadOnlySpan<float> x, ReadOnlySpan<int> picks, int samples, Span<ulong> bits) => Agree(Own(x), picks, samples, bits);

        /// <summary>
        /// The bits of <see cref="Agreement"/> from x's own bins or levels: each row's picks compared with them
        /// <see cref="Vector256{T}.Count"/> features at a time, the comparison's lanes gathered into the word at once. A
        /// group of 8 never straddles two words; lanes past K (the next row's picks) are masked off, and the last rows,
        /// where a vector would read past the picks, compare one feature at a time.
        /// </summary>
        /// <param name="own">x's bin or level per feature [K].</param>
        /// <param name="picks">[samples, K]: each drawn row's bin or level per feature.</param>
        public static void Agree(ReadOnlySpan<int> own, ReadOnlySpan<int> picks, int samples, Span<ulong> bits)
        {
            var k = own.Length;
            var words = (k + 63) / 64;
            const int lanes = 8; // Vector256<int>: one byte of a word
            var groups = (k + lanes - 1) / lanes;
            var padded = new int[groups * lanes];
            padded.AsSpan().Fill(-1);
            own.CopyTo(padded);
            var compared = new Vector256<int>[groups];
            for (var g = 0; g < groups; g++) compared[g] = Vector256.Create(padded, g * lanes);
            var wanted = new ulong[words]; // the word's bits that are features
            for (var f = 0; f < k; f++) wanted[f >> 6] |= 1UL << (f & 63);
            bits.Clear();
            wanted.CopyTo(bits);
            ref var drawn = ref MemoryMarshal.GetReference(picks);
            var r = 1;
            for (; r < samples && (long)r * k + groups * lanes <= picks.Length; r++)
            {
                var row = bits.Slice(r * words, words);
                for (var g = 0; g < groups; g++)
                {
                    var equal = Vector256.Equals(Vector256.LoadUnsafe(ref drawn, (nuint)(r * k + g * lanes)), compared[g]);
                    row[g >> 3] |= (ulong)equal.ExtractMostSignificantBits() << ((g & 7) * lanes);
                }
                for (var word = 0; word < words; word++) row[word] &= wanted[word];
            }
            for (; r < samples; r++)
            {
                var row = bits.Slice(r * words, words);
                var drawnRow = picks.Slice(r * k, k);
                for (var f = 0; f < k; f++) row[f >> 6] |= (drawnRow[f] == own[f] ? 1UL : 0) << (f & 63);
            }
        }

        /// <summary>
        /// <paramref name="samples"/> perturbed vectors of <paramref name="x"/> (row 0: x itself), row-major; each row's
        /// surrogate features (1: the feature's bin or level is x's) into <paramref name="binary"/> [samples, features].
        /// </summary>
        public float[] Perturb(ReadOnlySpan<float> x, int samples, Random random, Span<float> binary)
        {
            var rows = new float[samples * _features.Width];
            var uniforms = new RandomUniforms(random);
            Perturb(x, samples, ref uniforms, rows, binary);
            return rows;
        }

        /// <summary>The width of the vectors the model takes.</summary>
        public int Width => _features.Width;

        /// <summary>
        /// The perturbed vectors into <paramref name="rows"/> [samples, width], in one pass without allocation (<see cref="Draw"/>).
        /// </summary>
        /// <param name="binary">When given, [samples, features]: 1 where the row's bin or level is x's.</param>
        /// <param name="picks">When given, [samples, features]: each drawn row's bin or level per feature (row 0: x's).</param>
        public void Perturb<TUniforms>(ReadOnlySpan<float> x, int samples, ref TUniforms random, Span<float> rows, Span<float> binary, Span<int> picks = default)
            where TUniforms : struct, IUniforms
        {
            var k = _stats.Length;
            var drawn = picks.Length > 0 ? picks[..(samples * k)] : binary.Length > 0 ? new int[samples * k] : default;
            Draw(x, 0, samples, ref random, rows, drawn);
            if (binary.Length == 0) return;
            var own = Own(x);
            for (var r = 0; r < samples; r++)
                for (var f = 0; f < k; f++) binary[r * k + f] = r == 0 || drawn[r * k + f] == own[f] ? 1 : 0;
        }

        /// <summary>x's bin or level per feature.</summary>
        public int[] Own(ReadOnlySpan<float> x)
        {
            var own = new int[_stats.Length];
            for (var f = 0; f < own.Length; f++) own[f] = Value(f, x);
            return own;
        }

        /// <summary>
        /// Rows <paramref name="from"/> .. <paramref name="from"/> + <paramref name="count"/> of x's perturbed vectors into
        /// <paramref name="rows"/> [count, width] (row 0 is x), and their picks into <paramref name="picks"/> at their own
        /// rows [samples, K] when given. <paramref name="random"/> is the stream positioned at row <paramref name="from"/>'s
        /// first value (<see cref="StreamUniforms.At"/>): one uniform u per drawn row and feature, in row-major order, makes
        /// both of lime's draws. The bin or level is where u falls among the cumulative frequencies; u's place within that
        /// interval, uniform on [0, 1) and independent of the pick, is the quantile of the bin's truncated normal, read from
        /// its table (<see cref="Grid"/>). The uniforms of a block of rows are drawn first, then each feature's column of
        /// them is turned into values in a loop of its own, with the pick counted with no branch (a predictor cannot guess
        /// random draws). A <see cref="StreamUniforms"/> on a CPU with AVX2 takes the vector loops instead (each uniform from
        /// its counter, four rows at a time), which give the same values to the bit; the stream is left where the scalar
        /// loop leaves it.
        /// </summary>
        public void Draw<TUniforms>(ReadOnlySpan<float> x, int from, int count, ref TUniforms random, Span<float> rows, Span<int> picks)
            where TUniforms : struct, IUniforms
        {
            var (width, k) = (_features.Width, _stats.Length);
            rows = rows[..(count * width)];
            rows.Clear();
            var keep = picks.Length > 0;
            var r = 0;
            if (from == 0 && count > 0)
            {
                x.CopyTo(rows);
                if (keep) Own(x).CopyTo(picks);
                r = 1;
            }
            if (typeof(TUniforms) == typeof(StreamUniforms) && Avx2.IsSupported && r < count)
            {
                // The stream's values by their counters (SplitMix64 is a counter: value n of a state S is Mix(S + (n + 1)·γ)),
                // a feature's column of rows at a time, four rows a vector.
                ref var stream = ref Unsafe.As<TUniforms, StreamUniforms>(ref random);
                var state = stream.State;
                for (var f = 0; f < k; f++)
                {
                    var into = rows[(r * width + _at[f])..];
                    var drawn = keep ? picks[((from + r) * k + f)..] : default;
                    var first = SampleSeeds.Advance(state, f);
                    if (_kind[f] == Numeric) DrawNumeric(f, first, k, count - r, into, width, drawn);
                    else DrawLevels(f, first, k, count - r, into, width, drawn);
                }
                stream = StreamUniforms.At(state, (long)(count - r) * k);
                return;
            }
            var uniforms = System.Buffers.ArrayPool<double>.Shared.Rent(Block * k);
            try
            {
                for (; r < count; r += Block)
                {
                    var size = Math.Min(Block, count - r);
                    for (var i = 0; i < size; i++) // the stream's order, row by row; kept feature by feature
                        for (var f = 0; f < k; f++) uniforms[f * Block + i] = random.Next();
                    for (var f = 0; f < k; f++)
                    {
                        var column = uniforms.AsSpan(f * Block, size);
                        var into = rows[(r * width + _at[f])..];
                        var drawn = keep ? picks[((from + r) * k + f)..] : default;
                        if (_kind[f] == Numeric) DrawNumeric(f, column, into, width, drawn, k);
                        else DrawLevels(f, column, into, width, drawn, k);
                    }
                }
            }
            finally
            {
                System.Buffers.ArrayPool<double>.Shared.Return(uniforms);
            }
        }

        /// <summary>Rows drawn a block at a time: each feature's uniforms of a block are 4 KB.</summary>
        private const int Block = 512;

        /// <summary>A numeric feature's values from its uniforms: its bin (at most four: three cuts, the missing ones never passed), then the bin's quantile.</summary>
        private void DrawNumeric(int f, ReadOnlySpan<double> u, Span<float> into, int width, Span<int> picks, int k)
        {
            var (first, cuts) = (_first[f], _last[f] - _first[f]);
            var c0 = cuts > 0 ? _cut[first] : double.PositiveInfinity;
            var c1 = cuts > 1 ? _cut[first + 1] : double.PositiveInfinity;
            var c2 = cuts > 2 ? _cut[first + 2] : double.PositiveInfinity;
            ref var start = ref _from[first];
            ref var scale = ref _scale[first];
            ref var tableAt = ref _tableAt[first];
            ref var value = ref _value[first];
            ref var table = ref MemoryMarshal.GetArrayDataReference(_table);
            ref var row = ref MemoryMarshal.GetReference(into);
            ref var pick = ref MemoryMarshal.GetReference(picks);
            var keep = picks.Length > 0;
            if (u.Length > 0 && ((u.Length - 1) * width >= into.Length || keep && (u.Length - 1) * k >= picks.Length)) throw new ArgumentOutOfRangeException(nameof(u));
            for (var i = 0; i < u.Length; i++)
            {
                var v = u[i];
                var p = Bit(v >= c0) + Bit(v >= c1) + Bit(v >= c2); // 0..3: each cut a bin's end, the missing ones +∞
                if (keep) Unsafe.Add(ref pick, i * k) = Unsafe.Add(ref value, p);
                var place = Math.Clamp((v - Unsafe.Add(ref start, p)) * Unsafe.Add(ref scale, p), 0, Grid);
                var j = Math.Min((int)place, Grid - 1);
                ref var cell = ref Unsafe.Add(ref table, Unsafe.Add(ref tableAt, p) + j);
                Unsafe.Add(ref row, i * width) = (float)(cell + (Unsafe.Add(ref cell, 1) - cell) * (place - j));
            }
        }

        /// <summary>
        /// <see cref="DrawNumeric(int, ReadOnlySpan{double}, Span{float}, int, Span{int}, int)"/> with the uniforms drawn
        /// here, four rows a vector (AVX2): row i's is the stream's value at <paramref name="first"/> + i·K (the stream
        /// positioned at the feature's first value), by its counter. Every lane's arithmetic is the scalar loop's, in the same
        /// order (the bin by the three comparisons; the pick's interval, table and value looked up by it), so the values are
        /// the same to the bit.
        /// </summary>
        private unsafe void DrawNumeric(int f, ulong first, int k, int count, Span<float> into, int width, Span<int> picks)
        {
            var (at, cuts) = (_first[f], _last[f] - _first[f]);
            var c0 = Vector256.Create(cuts > 0 ? _cut[at] : double.PositiveInfinity);
            var c1 = Vector256.Create(cuts > 1 ? _cut[at + 1] : double.PositiveInfinity);
            var c2 = Vector256.Create(cuts > 2 ? _cut[at + 2] : double.PositiveInfinity);
            // The bin's entries, four lanes each (bins past the feature's last repeat it; no draw reaches them).
            var (start, scale) = (PerBin(_from, at, cuts), PerBin(_scale, at, cuts));
            var (tableAt, value) = (PerBin(_tableAt, at, cuts), PerBin(_value, at, cuts));
            var keep = picks.Length > 0;
            if (count > 0 && ((count - 1) * width >= into.Length || keep && (count - 1) * k >= picks.Length)) throw new ArgumentOutOfRangeException(nameof(count));
            ref var row = ref MemoryMarshal.GetReference(into);
            ref var pick = ref MemoryMarshal.GetReference(picks);
            var (counter, advance) = Counters(first, k);
            var (grid, last, zero) = (Vector256.Create((double)Grid), Vector128.Create(Grid - 1), Vector256<double>.Zero);
            var i = 0;
            fixed (double* table = _table)
            {
                for (; i + 4 <= count; i += 4, counter += advance)
                {
                    var u = Uniforms(counter);
                    var bin = -(Vector256.GreaterThanOrEqual(u, c0).AsInt64() + Vector256.GreaterThanOrEqual(u, c1).AsInt64() + Vector256.GreaterThanOrEqual(u, c2).AsInt64());
                    var lanes = Lanes(bin);
                    // x86's min and max (no NaN here, nor −0: u is past its bin's start) and a truncation to 32 bits (place ≤ Grid).
                    var place = Avx.Min(Avx.Max((u - Entry(start, lanes)) * Entry(scale, lanes), zero), grid);
                    var j = Vector128.Min(Avx.ConvertToVector128Int32WithTruncation(place), last);
                    var cell = Entry(tableAt, lanes).AsInt64() + Avx2.ConvertToVector256Int64(j);
                    var (low, high) = (Avx2.GatherVector256(table, cell, 8), Avx2.GatherVector256(table + 1, cell, 8));
                    var drawn = Avx.ConvertToVector128Single(low + (high - low) * (place - Avx.ConvertToVector256Double(j)));
                    for (var l = 0; l < 4; l++) Unsafe.Add(ref row, (i + l) * width) = drawn.GetElement(l);
                    if (!keep) continue;
                    var picked = Entry(value, lanes).AsInt64();
                    for (var l = 0; l < 4; l++) Unsafe.Add(ref pick, (i + l) * k) = (int)picked.GetElement(l);
                }
            }
            if (i == count) return;
            Span<double> rest = stackalloc double[count - i];
            Rest(first, k, i, rest);
            DrawNumeric(f, rest, into[(i * width)..], width, keep ? picks[(i * k)..] : default, k);
        }

        /// <summary>A numeric feature's entries for its (at most four) bins as one vector; bins past its last repeat it.</summary>
        private static Vector256<double> PerBin(double[] entries, int at, int cuts) =>
            Vector256.Create(entries[at], entries[at + Math.Min(1, cuts)], entries[at + Math.Min(2, cuts)], entries[at + Math.Min(3, cuts)]);

        /// <summary>Integer entries as longs, their bits in a vector of doubles (<see cref="Entry"/> moves bits).</summary>
        private static Vector256<double> PerBin(int[] entries, int at, int cuts) =>
            Vector256.Create((long)entries[at], entries[at + Math.Min(1, cuts)], entries[at + Math.Min(2, cuts)], entries[at + Math.Min(3, cuts)]).AsDouble();

        /// <summary>The permutation that moves each lane's bin's 64 bits into it: 32-bit elements 2b and 2b + 1 of the entries.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<int> Lanes(Vector256<long> bin)
        {
            var twice = bin + bin;
            return (twice | ((twice + Vector256<long>.One) << 32)).AsInt32();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<double> Entry(Vector256<double> entries, Vector256<int> lanes) => Avx2.PermuteVar8x32(entries.AsSingle(), lanes).AsDouble();

        /// <summary><see cref="DrawLevels(int, ReadOnlySpan{double}, Span{float}, int, Span{int}, int)"/> with the uniforms drawn here, by their counters (<see cref="DrawNumeric(int, ulong, int, int, Span{float}, int, Span{int})"/>).</summary>
        private void DrawLevels(int f, ulong first, int k, int count, Span<float> into, int width, Span<int> picks)
        {
            var (at, last) = (_first[f], _last[f]);
            var keep = picks.Length > 0;
            var hot = _kind[f] == OneHot;
            var (counter, advance) = Counters(first, k);
            var i = 0;
            for (; i + 4 <= count; i += 4, counter += advance)
            {
                var u = Uniforms(counter);
                var p = Vector256.Create((long)at);
                for (var t = at; t < last; t++) p -= Vector256.GreaterThanOrEqual(u, Vector256.Create(_cut[t])).AsInt64();
                for (var l = 0; l < 4; l++)
                {
                    var level = _value[(int)p.GetElement(l)];
                    if (keep) picks[(i + l) * k] = level;
                    if (hot) into[(i + l) * width + level] = 1;
                    else into[(i + l) * width] = level;
                }
            }
            if (i == count) return;
            Span<double> rest = stackalloc double[count - i];
            Rest(first, k, i, rest);
            DrawLevels(f, rest, into[(i * width)..], width, keep ? picks[(i * k)..] : default, k);
        }

        /// <summary>The uniforms of the rows from <paramref name="i"/> on, fewer than a vector, for the scalar loop.</summary>
        private static void Rest(ulong first, int k, int i, Span<double> into)
        {
            for (var l = 0; l < into.Length; l++)
            {
                var state = SampleSeeds.Advance(first, (long)(i + l) * k);
                into[l] = SampleSeeds.Uniform(ref state);
            }
        }

        /// <summary>The counters of a feature's values in four rows (K values apart), and what takes them four rows on.</summary>
        private static (Vector256<ulong> Counter, Vector256<ulong> Advance) Counters(ulong first, int k)
        {
            var (start, step) = (first + SampleSeeds.Golden, (ulong)k * SampleSeeds.Golden);
            return (Vector256.Create(start, start + step, start + 2 * step, start + 3 * step), Vector256.Create(4 * step));
        }

        /// <summary>SplitMix64's values at four counters, as uniforms on [0, 1) (<see cref="SampleSeeds.Uniform"/>).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<double> Uniforms(Vector256<ulong> z)
        {
            z = (z ^ (z >> 30)) * Vector256.Create(SampleSeeds.MixFirst);
            z = (z ^ (z >> 27)) * Vector256.Create(SampleSeeds.MixSecond);
            z ^= z >> 31;
            return Vector256.ConvertToDouble(z >> 11) * Vector256.Create(1.0 / (1UL << 53));
        }

        /// <summary>A categorical feature's levels from its uniforms: the one-hot element set, or the level's index.</summary>
        private void DrawLevels(int f, ReadOnlySpan<double> u, Span<float> into, int width, Span<int> picks, int k)
        {
            var (first, last) = (_first[f], _last[f]);
            var (cut, value) = (_cut, _value);
            var (keep, hot) = (picks.Length > 0, _kind[f] == OneHot);
            for (var i = 0; i < u.Length; i++)
            {
                var v = u[i];
                var p = first;
                for (var t = first; t < last; t++) p += Bit(v >= cut[t]);
                var level = value[p];
                if (keep) picks[i * k] = level;
                if (hot) into[i * width + level] = 1;
                else into[i * width] = level;
            }
        }

        private static int Bit(bool b) => Unsafe.As<bool, byte>(ref b);

        private const int Numeric = 0, OneHot = 1, Index = 2;

        // The features' draws laid out flat: feature f's picks are first[f]..last[f] (inclusive) in cut (each pick's
        // cumulative frequency), value (its bin or level), from and scale (its interval of u: start, and Grid over its
        // width) and tableAt (a numeric pick's quantile table in table).
        private readonly int[] _kind, _at, _first, _last, _value, _tableAt;
        private readonly double[] _cut, _from, _scale, _table;

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

        /// <summary>
        /// The cells of a bin's quantile table: the truncated normal's exact quantiles at i/Grid, linear between them, so
        /// the drawn law equals lime's at every grid point and its CDF is never more than 1/Grid (0.001) from it.
        /// </summary>
        public const int Grid = 1024;

        /// <summary>Each bin's quantiles of the normal (mean, std) truncated to [min, max] at 0, 1/Grid, …, 1 (scipy's truncnorm.ppf); the bound itself when the bounds meet.</summary>
        private static double[][] Quantiles(double[] mean, double[] std, double[] min, double[] max)
        {
            using var scope = NewDisposeScope();
            var (mu, sigma, low, high) = (tensor(mean).unsqueeze(1), tensor(std).unsqueeze(1), tensor(min).unsqueeze(1), tensor(max).unsqueeze(1));
            var (from, to) = (special.ndtr((low - mu) / sigma), special.ndtr((high - mu) / sigma));
            var q = linspace(0, 1, Grid + 1, ScalarType.Float64).unsqueeze(0);
            var table = mu.Plus(sigma * special.ndtri(from.Plus(q * (to - from)))).maximum(low).minimum(high); // rooted alphas (Scalars)
            table.select(1, 0).copy_(low.squeeze(1));
            table.select(1, Grid).copy_(high.squeeze(1));
            var values = table.data<double>().ToArray();
            return [.. Enumerable.Range(0, mean.Length).Select(b => values.AsSpan(b * (Grid + 1), Grid + 1).ToArray())];
        }
    }

    /// <summary>A source of uniforms on [0, 1), a struct so the perturbation loop inlines it.</summary>
    public interface IUniforms
    {
        double Next();
    }

    /// <summary>A sample's own SplitMix64 stream (<see cref="SampleSeeds.Uniform"/>).</summary>
    public struct StreamUniforms(ulong state) : IUniforms
    {
        private ulong _state = state;

        public double Next() => SampleSeeds.Uniform(ref _state);

        /// <summary>The state: the stream's next value is <see cref="SampleSeeds.Uniform"/> of it.</summary>
        public readonly ulong State => _state;

        /// <summary>The stream of <paramref name="seed"/> after <paramref name="drawn"/> values (SplitMix64's state advances by a constant).</summary>
        public static StreamUniforms At(ulong seed, long drawn) => new(SampleSeeds.Advance(seed, drawn));
    }

    /// <summary>A <see cref="Random"/>'s uniforms.</summary>
    public readonly struct RandomUniforms(Random random) : IUniforms
    {
        public double Next() => random.NextDouble();
    }
}
