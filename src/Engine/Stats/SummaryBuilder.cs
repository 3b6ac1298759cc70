using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// Merges shard partials into the global summary by folding them into running sums in shard order: a
/// partial that arrives before its predecessors waits until they are folded. The result is the same bit
/// for bit whichever silos ran the shards and in whatever order they finished, and only partials that
/// arrived out of order are held, so a job's memory does not grow with its shard count.
/// </summary>
public sealed class SummaryBuilder
{
    private readonly Dictionary<int, ShardPartial> _waiting = [];
    private readonly List<(string Name, int[] MapShape, long[] Counts, double[] Sums, double[] AbsSums)> _methods = [];
    private int _next;
    private long _samples;
    private long[] _predicted = [];
    private int[] _inputShape = [];
    private long[] _inputCounts = [];
    private double[] _inputSums = [];
    private ErrorPartial? _errors;
    private double _sumNll;
    private LossEntry[] _top = [];

    /// <summary>Partials folded so far: shards 0 .. Folded−1.</summary>
    public int Folded => _next;

    /// <summary>Partials held because an earlier shard has not arrived yet.</summary>
    public int Waiting => _waiting.Count;

    public static Summary Build(IEnumerable<ShardPartial> partials, string[]? classNames)
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

    public Summary Build(string[]? classNames)
    {
        if (_waiting.Count > 0) throw new InvalidOperationException($"shard {_next} is missing");
        if (_next == 0) throw new InvalidOperationException("no partials to merge");
        var classes = _predicted.Length;
        var names = classNames ?? [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var inputs = new InputSummary(_inputShape, ClassMeans(_inputCounts, _inputSums, names));
        var methods = new Dictionary<string, MethodSummary>(StringComparer.Ordinal);
        foreach (var (name, mapShape, counts, sums, absSums) in _methods)
        {
            var mapSize = mapShape.Aggregate(1, (a, b) => a * b);
            var total = counts.Sum();
            var meanAbsMap = new double[mapSize];
            for (var c = 0; c < classes; c++)
                for (var j = 0; j < mapSize; j++) meanAbsMap[j] += absSums[c * mapSize + j];
            for (var j = 0; j < mapSize; j++) meanAbsMap[j] /= total;
            methods[name] = new MethodSummary(mapShape, meanAbsMap.Average(), meanAbsMap, ClassMeans(counts, sums, names));
        }
        var errors = _errors is null ? null : Errors(_errors, _sumNll, _top, classes, names);
        return new Summary(_samples, names, (long[])_predicted.Clone(), errors, methods, inputs);
    }

    private void Fold(ShardPartial p)
    {
        _samples += p.Count;
        if (_next == 0)
        {
            _predicted = (long[])p.PredictedCounts.Clone();
            _inputShape = p.InputShape;
            _inputCounts = (long[])p.InputClassCount.Clone();
            _inputSums = (double[])p.InputClassSum.Clone();
            foreach (var m in p.Methods)
                _methods.Add((m.Method, m.MapShape, (long[])m.ClassCounts.Clone(), (double[])m.ClassSum.Clone(), (double[])m.ClassAbsSum.Clone()));
            if (p.Errors is { } e)
            {
                _errors = e with
                {
                    Confusion = (long[])e.Confusion.Clone(), BinCount = (long[])e.BinCount.Clone(),
                    BinConfidence = (double[])e.BinConfidence.Clone(), BinCorrect = (long[])e.BinCorrect.Clone(), TopLoss = [],
                };
                _sumNll = e.SumNll;
                _top = Top(e.TopLoss);
            }
            return;
        }
        AddTo(_predicted, p.PredictedCounts);
        AddTo(_inputCounts, p.InputClassCount);
        AddTo(_inputSums, p.InputClassSum);
        foreach (var (name, _, counts, sums, absSums) in _methods)
        {
            var m = p.Methods.Single(x => x.Method == name);
            AddTo(counts, m.ClassCounts);
            AddTo(sums, m.ClassSum);
            AddTo(absSums, m.ClassAbsSum);
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

    private static ErrorAnalysis Errors(ErrorPartial sums, double sumNll, LossEntry[] topLoss, int classes, string[] names)
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
        var matrix = Enumerable.Range(0, classes).Select(r => confusion.AsSpan(r * classes, classes).ToArray()).ToArray();
        return new ErrorAnalysis((double)correct / n, sumNll / n, matrix, perClass, ece, reliability, top, mostConfused);
    }

    private static ClassMap[] ClassMeans(long[] counts, double[] sums, string[] names)
    {
        var size = counts.Length == 0 ? 0 : sums.Length / counts.Length;
        return [.. Enumerable.Range(0, counts.Length).Select(c => new ClassMap(c, names[c], counts[c],
            [.. sums.AsSpan(c * size, size).ToArray().Select(v => counts[c] == 0 ? 0 : v / counts[c])]))];
    }
}
