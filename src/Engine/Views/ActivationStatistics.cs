using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The <c>activations</c> view over a shard: each batch's captured layer outputs reduced on the device to
/// per-sample channel means, which channels fired, and how many activations were ≤ 0, then summed per target class.
/// </summary>
/// <param name="capture">The pass's capture, which takes at least <paramref name="layers"/>.</param>
public sealed class ActivationRecorder(IReadOnlyList<string> layers, ActivationCapture capture)
{
    private readonly Layer[] _layers = [.. layers.Select(l => new Layer(l))];
    private long[] _counts = [];

    public ActivationCapture Capture => capture;

    /// <summary>After a batch's pass: <paramref name="targets"/> [n] int64 on the model's device, each row's target class.</summary>
    public void Add(Tensor targets, int classes)
    {
        if (_counts.Length == 0) _counts = new long[classes];
        using var scope = NewDisposeScope();
        foreach (var t in targets.cpu().data<long>().ToArray()) _counts[t]++;
        foreach (var layer in _layers)
        {
            // One pass each over the activations in their own dtype; only [n, C] means and [C] counts go further.
            var a = Capture[layer.Name];
            var flat = a.dim() > 2 ? a.flatten(2) : a.unsqueeze(2);
            var means = flat.mean([2]).to(float64);
            var channels = (int)means.shape[1];
            layer.Start(channels, classes);
            var sums = zeros([classes, channels], float64, a.device).index_add_(0, targets, means, Scalars.One).cpu().data<double>().ToArray();
            for (var j = 0; j < sums.Length; j++) layer.Sums[j] += sums[j];
            // Each (sample, channel)'s count of positive activations: one pass over the comparison, then small tensors only.
            var positive = flat.IsPositive().sum([2], false, ScalarType.Int64); // rooted Scalars (Scalars)
            var fired = positive.IsPositive().count_nonzero([0]).cpu().data<long>().ToArray();
            for (var c = 0; c < channels; c++) layer.Fired[c] += fired[c];
            layer.NonPositive += a.numel() - positive.sum().item<long>();
            layer.Elements += a.numel();
        }
    }

    public ActivationsPartial Partial() => new([.. _layers.Select(layer =>
    {
        // Rows only for the classes with samples, as every per-class sum travels.
        var rows = ShardPartial.ClassRows(_counts);
        var sums = rows.SelectMany(c => layer.Sums.AsSpan(c * layer.Channels, layer.Channels).ToArray()).ToArray();
        return new LayerActivationSums(layer.Name, layer.Channels, _counts, sums, layer.Fired, layer.NonPositive, layer.Elements);
    })]);

    private sealed class Layer(string name)
    {
        public string Name => name;
        public int Channels { get; private set; }
        public double[] Sums { get; private set; } = [];
        public long[] Fired { get; private set; } = [];
        public long NonPositive { get; set; }
        public long Elements { get; set; }

        public void Start(int channels, int classes)
        {
            if (Channels == channels) return;
            if (Channels != 0) throw new InvalidOperationException($"layer {name} changed from {Channels} to {channels} channels");
            (Channels, Fired, Sums) = (channels, new long[channels], new double[classes * channels]);
        }
    }
}

/// <summary>
/// The <c>activations</c> view over the job: per layer the class-mean channel vectors, dead channels (never fired
/// on any sample), sparsity (the fraction of activations ≤ 0), the cosine similarity between class means and an
/// exact 2-D PCA of the class-mean vectors (centred over the classes with samples).
/// </summary>
public sealed class ActivationStatistics
{
    private readonly List<(LayerActivationSums First, long[] Counts, ClassSums Sums, long[] Fired)> _layers = [];
    private readonly long[] _nonPositive;
    private readonly long[] _elements;

    private ActivationStatistics(ActivationsPartial first)
    {
        foreach (var l in first.Layers)
            _layers.Add((l, new long[l.ClassCounts.Length], new ClassSums(l.ClassCounts.Length, l.Channels), new long[l.Channels]));
        (_nonPositive, _elements) = (new long[_layers.Count], new long[_layers.Count]);
    }

    public static ActivationStatistics Fold(ActivationStatistics? total, ActivationsPartial partial)
    {
        total ??= new ActivationStatistics(partial);
        if (!partial.Layers.Select(l => (l.Layer, l.Channels)).SequenceEqual(total._layers.Select(l => (l.First.Layer, l.First.Channels))))
            throw new ArgumentException("activation partials of different layers", nameof(partial));
        for (var i = 0; i < total._layers.Count; i++)
        {
            var (layer, (_, counts, sums, fired)) = (partial.Layers[i], total._layers[i]);
            for (var c = 0; c < counts.Length; c++) counts[c] += layer.ClassCounts[c];
            sums.Add(layer.ClassCounts, layer.ClassSums);
            for (var c = 0; c < fired.Length; c++) fired[c] += layer.Fired[c];
            total._nonPositive[i] += layer.NonPositive;
            total._elements[i] += layer.Elements;
        }
        return total;
    }

    public (ActivationsSummary Summary, SummaryArray[] Arrays) Summary(string[] classNames)
    {
        var arrays = new List<SummaryArray>();
        var layers = _layers.Select((l, i) =>
        {
            var (first, counts, sums, fired) = l;
            var present = ShardPartial.ClassRows(counts);
            var channels = first.Channels;
            var means = present.Select(c => sums[c].Select(v => v / counts[c]).ToArray()).ToArray();
            var file = OutputLayout.SummaryArray($"activations-{FileName(first.Layer)}-class-means");
            arrays.Add(ClassTables.ClassMeans(file, [channels], counts, sums));
            var cosine = Cosine(means);
            var cosineFile = OutputLayout.SummaryArray($"activations-{FileName(first.Layer)}-cosine");
            arrays.Add(new SummaryArray(cosineFile, [present.Length, present.Length], Array.ConvertAll(cosine, v => (float)v)));
            var (coordinates, explained) = Pca(means, 2);
            return new LayerActivations(first.Layer, channels, (double)fired.Count(f => f == 0) / channels,
                _elements[i] == 0 ? 0 : (double)_nonPositive[i] / _elements[i], file, cosineFile,
                [.. present.Select((c, r) => new ClassPoint(c, classNames[c], counts[c], coordinates[r]))], explained);
        }).ToArray();
        return (new ActivationsSummary(layers), [.. arrays]);
    }

    private static string FileName(string layer) => string.Concat(layer.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or '-' or '_' ? ch : '_'));

    /// <summary>[k × k] cosine similarities of the rows (0 where a row is all zeros).</summary>
    public static double[] Cosine(double[][] rows)
    {
        var k = rows.Length;
        var norms = rows.Select(r => Math.Sqrt(r.Sum(v => v * v))).ToArray();
        var result = new double[k * k];
        for (var a = 0; a < k; a++)
            for (var b = 0; b < k; b++)
                result[a * k + b] = norms[a] == 0 || norms[b] == 0 ? 0 : rows[a].Zip(rows[b]).Sum(p => p.First * p.Second) / (norms[a] * norms[b]);
        return result;
    }

    /// <summary>
    /// Exact PCA of the rows (centred over rows) to <paramref name="dims"/> dimensions, from the rows' Gram matrix G:
    /// block power iteration on G (re-orthonormalised every step, until the subspace stops moving), then the exact
    /// eigenvectors within it (Jacobi on Qᵀ G Q); coordinates u·√λ, each component's sign fixed so its
    /// largest-magnitude coordinate is positive; and the fraction of the total variance each explains.
    /// </summary>
    public static (double[][] Coordinates, double[] Explained) Pca(double[][] rows, int dims)
    {
        var k = rows.Length;
        var width = k == 0 ? 0 : rows[0].Length;
        var centre = Enumerable.Range(0, width).Select(j => rows.Average(r => r[j])).ToArray();
        var x = rows.Select(r => r.Select((v, j) => v - centre[j]).ToArray()).ToArray();
        var gram = new double[k, k];
        for (var a = 0; a < k; a++)
            for (var b = 0; b <= a; b++)
                gram[a, b] = gram[b, a] = x[a].Zip(x[b]).Sum(p => p.First * p.Second);
        var total = Enumerable.Range(0, k).Sum(a => gram[a, a]);
        var m = Math.Min(dims, k);
        var coordinates = Enumerable.Range(0, k).Select(_ => new double[dims]).ToArray();
        var explained = new double[dims];
        if (m == 0 || total == 0) return (coordinates, explained);

        var (values, vectors) = TopEigen(gram, m);
        for (var d = 0; d < m; d++)
        {
            var (lambda, u) = (Math.Max(values[d], 0), vectors[d]);
            for (var a = 0; a < k; a++) coordinates[a][d] = u[a] * Math.Sqrt(lambda);
            explained[d] = lambda / total;
        }
        return (coordinates, explained);
    }

    /// <summary>
    /// The <paramref name="m"/> largest eigenvalues of a symmetric positive semi-definite matrix and their unit
    /// eigenvectors: block power iteration (re-orthonormalised every step, until the subspace stops moving), then the
    /// exact eigenvectors within it (Jacobi on Qᵀ G Q), largest first, each with its largest-magnitude entry positive.
    /// </summary>
    public static (double[] Values, double[][] Vectors) TopEigen(double[,] gram, int m)
    {
        var k = gram.GetLength(0);
        // A deterministic start that is not orthogonal to the data: columns of G itself (plus a small ramp for ties).
        var q = new double[m][];
        for (var d = 0; d < m; d++) q[d] = [.. Enumerable.Range(0, k).Select(a => gram[a, (d * 7919) % k] + 1e-3 * Math.Sin(a + 1.0 + d))];
        Orthonormalise(q);
        for (var iteration = 0; iteration < 5000; iteration++)
        {
            var next = q.Select(col => Multiply(gram, col)).ToArray();
            Orthonormalise(next);
            var moved = 0.0;
            for (var d = 0; d < m; d++)
            {
                // The distance of each new direction from the old subspace.
                var residual = (double[])next[d].Clone();
                foreach (var old in q)
                {
                    var dot = Dot(residual, old);
                    for (var a = 0; a < k; a++) residual[a] -= dot * old[a];
                }
                moved = Math.Max(moved, Math.Sqrt(Dot(residual, residual)));
            }
            q = next;
            if (moved < 1e-12) break;
        }
        var small = new double[m, m];
        for (var a = 0; a < m; a++)
            for (var b = 0; b < m; b++) small[a, b] = Dot(q[a], Multiply(gram, q[b]));
        var (values, vectors) = Jacobi(small);
        var order = Enumerable.Range(0, m).OrderByDescending(i => values[i]).ToArray();
        var result = new double[m][];
        for (var d = 0; d < m; d++)
        {
            var u = new double[k];
            for (var a = 0; a < k; a++)
                for (var b = 0; b < m; b++) u[a] += q[b][a] * vectors[b, order[d]];
            var sign = u.MaxBy(Math.Abs) < 0 ? -1 : 1;
            result[d] = [.. u.Select(v => sign * v)];
        }
        return ([.. order.Select(i => values[i])], result);
    }

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (var i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    private static double[] Multiply(double[,] g, double[] v)
    {
        var n = v.Length;
        var result = new double[n];
        for (var a = 0; a < n; a++)
            for (var b = 0; b < n; b++) result[a] += g[a, b] * v[b];
        return result;
    }

    /// <summary>
    /// Gram–Schmidt, twice for accuracy. A column (numerically) in the span of the earlier ones is replaced by the
    /// first unit vector that is not, so the block keeps exploring; if none is left it becomes zeros.
    /// </summary>
    private static void Orthonormalise(double[][] columns)
    {
        for (var d = 0; d < columns.Length; d++)
        {
            var n = columns[d].Length;
            for (var candidate = -1; candidate < n; candidate++)
            {
                if (candidate >= 0)
                {
                    Array.Clear(columns[d]);
                    columns[d][candidate] = 1;
                }
                var before = Math.Sqrt(Dot(columns[d], columns[d]));
                for (var pass = 0; pass < 2; pass++)
                    for (var e = 0; e < d; e++)
                    {
                        var dot = Dot(columns[d], columns[e]);
                        for (var a = 0; a < n; a++) columns[d][a] -= dot * columns[e][a];
                    }
                var norm = Math.Sqrt(Dot(columns[d], columns[d]));
                if (before > 0 && norm > 1e-10 * before)
                {
                    for (var a = 0; a < n; a++) columns[d][a] /= norm;
                    break;
                }
                if (candidate == n - 1) Array.Clear(columns[d]);
            }
        }
    }

    /// <summary>Eigenvalues and eigenvectors (columns) of a small symmetric matrix by cyclic Jacobi rotations.</summary>
    private static (double[] Values, double[,] Vectors) Jacobi(double[,] matrix)
    {
        var n = matrix.GetLength(0);
        var a = (double[,])matrix.Clone();
        var v = new double[n, n];
        for (var i = 0; i < n; i++) v[i, i] = 1;
        for (var sweep = 0; sweep < 100; sweep++)
        {
            double off = 0;
            for (var i = 0; i < n; i++)
                for (var j = i + 1; j < n; j++) off += a[i, j] * a[i, j];
            if (off < 1e-30) break;
            for (var p = 0; p < n; p++)
                for (var r = p + 1; r < n; r++)
                {
                    if (Math.Abs(a[p, r]) < 1e-300) continue;
                    var theta = (a[r, r] - a[p, p]) / (2 * a[p, r]);
                    var t = Math.Sign(theta == 0 ? 1 : theta) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
                    var c = 1 / Math.Sqrt(t * t + 1);
                    var s = t * c;
                    for (var k = 0; k < n; k++)
                    {
                        var (akp, akr) = (a[k, p], a[k, r]);
                        a[k, p] = c * akp - s * akr;
                        a[k, r] = s * akp + c * akr;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var (apk, ark) = (a[p, k], a[r, k]);
                        a[p, k] = c * apk - s * ark;
                        a[r, k] = s * apk + c * ark;
                    }
                    for (var k = 0; k < n; k++)
                    {
                        var (vkp, vkr) = (v[k, p], v[k, r]);
                        v[k, p] = c * vkp - s * vkr;
                        v[k, r] = s * vkp + c * vkr;
                    }
                }
        }
        return ([.. Enumerable.Range(0, n).Select(i => a[i, i])], v);
    }
}

/// <summary>summary.json's <c>views.activations</c>: per layer (in the job's order).</summary>
public sealed record ActivationsSummary(LayerActivations[] Layers);

/// <summary>
/// One layer: its channels, the fraction of dead channels, sparsity, the class means ([classes with samples,
/// channels] float32) and their cosine similarities ([k, k]) as files, and the classes' 2-D PCA coordinates with
/// the fraction of variance each component explains.
/// </summary>
public sealed record LayerActivations(string Layer, int Channels, double DeadFraction, double Sparsity, string ClassMeans, string Cosine,
    ClassPoint[] Pca, double[] Explained);

public sealed record ClassPoint(int Class, string Name, long Count, double[] Coordinates);

/// <summary>summary.json's <c>views</c>.</summary>
public sealed record ViewsSummary(WeightsSummary? Weights, ActivationsSummary? Activations, PruningView? Pruning = null, MaximisationView? Maximisation = null,
    EmbeddingView? Embedding = null);

/// <summary>summary.json's <c>views.weights</c>: every parameter tensor's statistics, and the first convolution's filters as a file ([out, in, kh, kw] float32).</summary>
public sealed record WeightsSummary(ParameterStatistics[] Parameters, string? FirstConv, int[] FirstConvShape, string? FirstConvFilters)
{
    public static (WeightsSummary Summary, SummaryArray? Filters) Of(WeightsPartial weights)
    {
        var file = weights.FirstConv is null ? null : OutputLayout.SummaryArray("weights-first-conv");
        return (new WeightsSummary(weights.Parameters, weights.FirstConv, weights.FirstConvShape, file),
            file is null ? null : new SummaryArray(file, [.. weights.FirstConvShape.Select(d => (long)d)], weights.FirstConvFilters));
    }
}
