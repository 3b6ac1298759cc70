using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// Merges shard partials into the global summary by folding them into running sums in shard order: a
/// partial that arrives before its predecessors waits until they are folded. The result is the same bit
/// for bit whichever silos ran the shards and in whatever order they finished, and only partials that
/// arrived out of order are held, so a job's memory does not grow with its shard count. Per-class sums are
/// made for a class when its first sample arrives, so it holds maps only for the classes that have samples.
/// </summary>
public sealed class SummaryBuilder
{
    private readonly Dictionary<int, ShardPartial> _waiting = [];
    private readonly List<MethodSums> _methods = [];
    private int _next;
    private long _samples;
    private long[] _predicted = [];
    private int[] _inputShape = [];
    private long[] _inputCounts = [];
    private ClassSums _inputSums = new(0, 0);
    private ErrorPartial? _errors;
    private double _sumNll;
    private LossEntry[] _top = [];
    private FaithfulnessStatistics? _faithfulness;
    private Sanity.SanityStatistics? _sanity;
    private ParamGrads.ParamGradStatistics? _paramGrads;
    private WeightsPartial? _weights;
    private Views.ImportanceSums? _pruning;
    private double[]? _channelWeights;
    private readonly SortedDictionary<int, PruningCurvePartial> _curves = [];
    private EmbeddingPartial? _embedding;
    private readonly List<MaximisationImage> _images = [];
    private Views.ActivationStatistics? _activations;

    /// <summary>Pruning's first pass over the whole sample, once every shard is folded; null without pruning.</summary>
    public Views.ImportanceSums? PruningImportance => _pruning;

    /// <summary>The Grad-CAM layer's α per channel summed over every sample; null unless maximisation asked for channels.</summary>
    public double[]? ChannelWeights => _channelWeights;

    /// <summary>The embedding's PCA with <paramref name="dims"/> components, once every shard is folded; null without the view.</summary>
    public Views.EmbeddingPca? Embedding(int dims) => _embedding is null ? null : Views.EmbeddingPca.Of(_embedding, dims);

    /// <summary>The model's classes (known once a partial is folded).</summary>
    public int Classes => _predicted.Length;

    /// <summary>The embedding's label vote over its subset (sorted by dataset index), its arrays added; null without one.</summary>
    private Views.KnnVote? Vote(List<SummaryArray> arrays, string[] names)
    {
        if (LabelVote() is not { } vote) return null;
        var (sortedIndex, labels, agreement, majority) = vote;
        var (indexFile, agreementFile) = (OutputLayout.SummaryArray("embedding-knn-index"), OutputLayout.SummaryArray("embedding-knn-agreement"));
        arrays.Add(new SummaryArray(indexFile, [sortedIndex.Length], sortedIndex));
        arrays.Add(new SummaryArray(agreementFile, [agreement.Length], Array.ConvertAll(agreement, v => (float)v)));
        var lowest = Enumerable.Range(0, agreement.Length).OrderBy(i => agreement[i]).ThenBy(i => sortedIndex[i]).Take(16)
            .Select(i => new Views.Disagreement(sortedIndex[i], labels[i], majority[i], agreement[i])).ToArray();
        return new Views.KnnVote(EmbeddingNeighbours, agreement.Length, agreement.Average(), lowest, indexFile, agreementFile);
    }

    /// <summary>
    /// The embedding's label vote over its subset, by dataset index; null without one. Kept until another partial is
    /// folded or k changes (the post pass plans with it, the summary reports it): call it off the grain's scheduler.
    /// </summary>
    public (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? LabelVote()
    {
        if (_vote is { } kept && kept.K == EmbeddingNeighbours) return kept.Vote;
        var vote = ComputeLabelVote();
        _vote = (EmbeddingNeighbours, vote);
        return vote;
    }

    private (int K, (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? Vote)? _vote;

    private (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? ComputeLabelVote()
    {
        if (_embedding is not { SubsetIndex: { Length: > 0 } index } e) return null;
        var d = e.SubsetFeatures!.Length / index.Length;
        var order = Enumerable.Range(0, index.Length).OrderBy(i => index[i]).ToArray();
        var sortedIndex = order.Select(i => index[i]).ToArray();
        var labels = order.Select(i => e.SubsetLabels![i]).ToArray();
        var features = order.SelectMany(i => e.SubsetFeatures.AsSpan(i * d, d).ToArray()).ToArray();
        var (agreement, majority) = Views.LabelVote.Of(sortedIndex, labels, features, EmbeddingNeighbours);
        return (sortedIndex, labels, agreement, majority);
    }

    /// <summary>A post attempt's results (pruning's curve sums, maximisation images); the sums are added in shard order when the summary is built.</summary>
    public void AddPost(PostPartial post)
    {
        if (post.Curve is { } c) _curves[post.ShardIndex] = c;
        _images.AddRange(post.Images);
    }

    /// <summary>The curve's sums, added in shard order, so they are the same bit for bit whatever order the post attempts finished in.</summary>
    private Views.CurveSums? Curve() => _curves.Values
        .Select(c => new Views.CurveSums(c.Labelled, c.Samples, c.Removed, c.Correct, c.Probability))
        .Aggregate((Views.CurveSums?)null, (total, sums) => total is null ? sums : total.Add(sums));

    /// <summary>The embedding view's components (set by the job from its options before building).</summary>
    public int EmbeddingDims { get; set; } = 2;

    /// <summary>The embedding's label vote's k (set by the job from its options before building).</summary>
    public int EmbeddingNeighbours { get; set; } = 10;

    /// <summary>Partials folded so far: shards 0 .. Folded−1.</summary>
    public int Folded => _next;

    /// <summary>Partials held because an earlier shard has not arrived yet.</summary>
    public int Waiting => _waiting.Count;

    public static SummaryOutput Build(IEnumerable<ShardPartial> partials, string[]? classNames)
    {
        var builder = new SummaryBuilder();
        foreach (var p in partials) builder.Add(p);
        return builder.Build(classNames);
    }

    public void Add(ShardPartial partial)
    {
        if (partial.ShardIndex < _next || !_waiting.TryAdd(partial.ShardIndex, partial))
            throw new ArgumentException($"shard {partial.ShardIndex} was already merged", nameof(partial));
        while (_waiting.Remove(_next, out var next))
        {
            Fold(next);
            _next++;
        }
    }

    public SummaryOutput Build(string[]? classNames)
    {
        if (_waiting.Count > 0) throw new InvalidOperationException($"shard {_next} is missing");
        if (_next == 0) throw new InvalidOperationException("no partials to merge");
        var classes = _predicted.Length;
        var names = classNames ?? [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var arrays = new List<SummaryArray>();

        var inputFile = OutputLayout.SummaryArray("input-class-means");
        arrays.Add(ClassMeans(inputFile, _inputShape, _inputCounts, _inputSums));
        var inputs = new InputSummary(_inputShape, inputFile, Rows(_inputCounts, names));

        var methods = new Dictionary<string, MethodSummary>(StringComparer.Ordinal);
        foreach (var (name, mapShape, counts, sums, absSums) in _methods)
        {
            var total = counts.Sum();
            if (total == 0)
            {
                // A method whose subset took no sample of this job: it says so, and has no maps.
                methods[name] = new MethodSummary(mapShape, 0, null, null, [], 0);
                continue;
            }
            var meanAbsMap = Array.ConvertAll(absSums, v => v / total);
            var meanAbsFile = OutputLayout.SummaryArray($"{name}-mean-abs");
            var classFile = OutputLayout.SummaryArray($"{name}-class-means");
            arrays.Add(new SummaryArray(meanAbsFile, [.. mapShape.Select(d => (long)d)], Array.ConvertAll(meanAbsMap, v => (float)v)));
            arrays.Add(ClassMeans(classFile, mapShape, counts, sums));
            methods[name] = new MethodSummary(mapShape, meanAbsMap.Average(), meanAbsFile, classFile, Rows(counts, names), total);
        }

        ErrorAnalysis? errors = null;
        if (_errors is not null)
        {
            var confusionFile = OutputLayout.SummaryArray("confusion");
            arrays.Add(new SummaryArray(confusionFile, [classes, classes], (long[])_errors.Confusion.Clone()));
            errors = Errors(_errors, _sumNll, _top, classes, names, confusionFile);
        }
        var sanity = _sanity?.Summary();
        if (sanity?.Example is { } cascade) arrays.Add(cascade);
        var layerMeans = _methods.FirstOrDefault(m => m.Name == Methods.ParamGradsMethod.MethodName) is { } pg && pg.Counts.Sum() > 0
            ? Array.ConvertAll(pg.AbsSums, v => v / pg.Counts.Sum()) : null;
        Views.ViewsSummary? views = null;
        if (_weights is not null || _activations is not null || _pruning is not null || _images.Count > 0 || _embedding is not null)
        {
            var weights = _weights is null ? ((Views.WeightsSummary, SummaryArray?)?)null : Views.WeightsSummary.Of(_weights);
            if (weights?.Item2 is { } filters) arrays.Add(filters);
            var activations = _activations?.Summary(names);
            if (activations is { } a) arrays.AddRange(a.Arrays);
            var pruning = _pruning is null ? null : Views.PruningView.Of(_pruning, Curve());
            (Views.MaximisationView Summary, SummaryArray[] Arrays)? maximisation = _images.Count == 0 ? null : Views.MaximisationView.Of(_images, names);
            if (maximisation is { } m) arrays.AddRange(m.Arrays);
            var embedding = _embedding is null ? null : Views.EmbeddingPca.Of(_embedding, EmbeddingDims);
            views = new Views.ViewsSummary(weights?.Item1, activations?.Summary, pruning, maximisation?.Summary,
                embedding is null ? null : new Views.EmbeddingView(embedding.Layer, embedding.Samples, embedding.Components.Length, embedding.Variance, embedding.Explained,
                    Vote(arrays, names)));
        }
        return new SummaryOutput(new Summary(_samples, names, (long[])_predicted.Clone(), errors, methods, inputs, _faithfulness?.Summary(names), sanity?.Summary,
            _paramGrads?.Summary(names, layerMeans), views), [.. arrays]);
    }

    private void Fold(ShardPartial p)
    {
        _samples += p.Count;
        if (_next == 0)
        {
            var classes = p.PredictedCounts.Length;
            _predicted = new long[classes];
            _inputShape = p.InputShape;
            _inputCounts = new long[classes];
            _inputSums = new ClassSums(classes, p.InputShape.Aggregate(1, (a, b) => a * b));
            foreach (var m in p.Methods)
                _methods.Add(new MethodSums(m.Method, classes));
            if (p.Errors is { } e)
            {
                _errors = e with
                {
                    Confusion = new long[e.Confusion.Length], BinCount = new long[e.BinCount.Length], SumNll = 0,
                    BinConfidence = new double[e.BinConfidence.Length], BinCorrect = new long[e.BinCorrect.Length], TopLoss = [],
                };
            }
        }
        AddTo(_predicted, p.PredictedCounts);
        AddTo(_inputCounts, p.InputClassCount);
        _inputSums.Add(p.InputClassCount, p.InputClassSum);
        foreach (var entry in _methods)
        {
            var m = p.Methods.Single(x => x.Method == entry.Name);
            // A shard where a method's subset took no sample brings no map shape: the first that does sets it.
            if (m.ClassCounts.Sum() == 0) continue;
            entry.Add(m);
        }
        if (_errors is { } total && p.Errors is { } e2)
        {
            AddTo(total.Confusion, e2.Confusion);
            AddTo(total.BinCount, e2.BinCount);
            AddTo(total.BinConfidence, e2.BinConfidence);
            AddTo(total.BinCorrect, e2.BinCorrect);
            _sumNll += e2.SumNll;
            _top = Top(_top.Concat(e2.TopLoss));
        }
        if (p.Faithfulness is { } f) _faithfulness = FaithfulnessStatistics.Fold(_faithfulness, f);
        if (p.Sanity is { } s) _sanity = Sanity.SanityStatistics.Fold(_sanity, s);
        if (p.ParamGrads is { } g) _paramGrads = ParamGrads.ParamGradStatistics.Fold(_paramGrads, g);
        _weights ??= p.Weights;
        if (p.Pruning is { } pr)
        {
            var sums = new Views.ImportanceSums(pr.Labelled, pr.Samples, pr.BaselineCorrect, pr.BaselineProbability, pr.Correct, pr.Probability);
            _pruning = _pruning is null ? sums : _pruning.Add(sums);
        }
        if (p.Embedding is { } em) (_embedding, _vote) = (Views.EmbeddingPca.Add(_embedding, em), null);
        if (p.ChannelWeightSums is { } cw)
        {
            _channelWeights ??= new double[cw.Length];
            for (var c = 0; c < cw.Length; c++) _channelWeights[c] += cw[c];
        }
        if (p.Activations is { } act) _activations = Views.ActivationStatistics.Fold(_activations, act);
    }

    private static LossEntry[] Top(IEnumerable<LossEntry> entries) =>
        [.. entries.OrderBy(e => e, ErrorStatistics.TopLossOrder.Instance).Take(ErrorStatistics.TopLossCount)];

    private static void AddTo(long[] total, long[] part)
    {
        for (var i = 0; i < part.Length; i++) total[i] += part[i];
    }

    private static void AddTo(double[] total, double[] part)
    {
        for (var i = 0; i < part.Length; i++) total[i] += part[i];
    }

    private static ErrorAnalysis Errors(ErrorPartial sums, double sumNll, LossEntry[] topLoss, int classes, string[] names, string confusionFile)
    {
        var confusion = sums.Confusion;
        var n = confusion.Sum();
        long correct = 0;
        for (var c = 0; c < classes; c++) correct += confusion[c * classes + c];

        var perClass = new ClassMetrics[classes];
        for (var c = 0; c < classes; c++)
        {
            long tp = confusion[c * classes + c], support = 0, predictedAs = 0;
            for (var k = 0; k < classes; k++)
            {
                support += confusion[c * classes + k];
                predictedAs += confusion[k * classes + c];
            }
            var precision = predictedAs == 0 ? 0 : (double)tp / predictedAs;
            var recall = support == 0 ? 0 : (double)tp / support;
            var f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass[c] = new ClassMetrics(c, names[c], support, recall, precision, recall, f1);
        }

        var (binCount, binConfidence, binCorrect) = (sums.BinCount, sums.BinConfidence, sums.BinCorrect);
        var reliability = new ReliabilityBin[ErrorStatistics.CalibrationBins];
        double ece = 0;
        for (var b = 0; b < reliability.Length; b++)
        {
            var count = binCount[b];
            var meanConfidence = count == 0 ? 0 : binConfidence[b] / count;
            var accuracy = count == 0 ? 0 : (double)binCorrect[b] / count;
            reliability[b] = new ReliabilityBin(b, (double)b / reliability.Length, (double)(b + 1) / reliability.Length, count, meanConfidence, accuracy);
            ece += (double)count / n * Math.Abs(accuracy - meanConfidence);
        }

        var top = topLoss.Select(e => new TopLoss(e.Index, e.Loss, e.Label, e.Prediction, e.Confidence, e.Shard, e.Row)).ToArray();
        var confused = new List<ConfusedPair>();
        for (var l = 0; l < classes; l++)
            for (var p = 0; p < classes; p++)
                if (l != p && confusion[l * classes + p] > 0)
                    confused.Add(new ConfusedPair(l, p, names[l], names[p], confusion[l * classes + p]));
        var mostConfused = confused.OrderByDescending(c => c.Count).ThenBy(c => c.Label).ThenBy(c => c.Prediction).Take(10).ToArray();
        return new ErrorAnalysis((double)correct / n, sumNll / n, confusionFile, perClass, ece, reliability, top, mostConfused);
    }

    internal static ClassRow[] Rows(long[] counts, string[] names)
    {
        var present = ShardPartial.ClassRows(counts);
        return [.. present.Select((c, row) => new ClassRow(c, names[c], counts[c], row))];
    }

    /// <summary>float32 [classes with samples, ...shape]: each present class's sum divided by its count.</summary>
    internal static SummaryArray ClassMeans(string path, int[] shape, long[] counts, ClassSums sums)
    {
        var present = ShardPartial.ClassRows(counts);
        var size = sums.Size;
        var means = new float[(long)present.Length * size];
        for (var row = 0; row < present.Length; row++)
        {
            var c = present[row];
            var sum = sums[c];
            for (var j = 0; j < size; j++) means[(long)row * size + j] = (float)(sum[j] / counts[c]);
        }
        return new SummaryArray(path, [present.Length, .. shape.Select(d => (long)d)], means);
    }

    /// <summary>A sum per class, allocated when the class's first sample arrives.</summary>
    internal sealed class ClassSums(int classes, int size)
    {
        private readonly double[]?[] _sums = new double[classes][];

        public int Size => size;

        public double[] this[int c] => _sums[c] ?? throw new InvalidOperationException($"class {c} has no samples");

        /// <summary>Adds a partial's rows: one per class with a non-zero count, in class order.</summary>
        public void Add(long[] counts, double[] rows)
        {
            var row = 0;
            for (var c = 0; c < counts.Length; c++)
            {
                if (counts[c] == 0) continue;
                var sum = _sums[c] ??= new double[size];
                var part = rows.AsSpan(row++ * size, size);
                for (var j = 0; j < size; j++) sum[j] += part[j];
            }
            if (row * size != rows.Length) throw new ArgumentException($"{rows.Length} sums for {row} classes of {size} values", nameof(rows));
        }
    }

    /// <summary>One method's running sums; its map shape comes with the first partial that has samples of it.</summary>
    private sealed class MethodSums(string name, int classes)
    {
        public string Name => name;

        public int[] MapShape { get; private set; } = [];

        public long[] Counts { get; } = new long[classes];

        public ClassSums Sums { get; private set; } = new(classes, 0);

        public double[] AbsSums { get; private set; } = [];

        public void Add(MethodPartial m)
        {
            if (AbsSums.Length == 0)
            {
                (MapShape, Sums, AbsSums) = (m.MapShape, new ClassSums(classes, m.AbsSum.Length), new double[m.AbsSum.Length]);
            }
            AddTo(Counts, m.ClassCounts);
            Sums.Add(m.ClassCounts, m.ClassSum);
            AddTo(AbsSums, m.AbsSum);
        }

        public void Deconstruct(out string n, out int[] shape, out long[] counts, out ClassSums sums, out double[] absSums) =>
            (n, shape, counts, sums, absSums) = (Name, MapShape, Counts, Sums, AbsSums);
    }
}
