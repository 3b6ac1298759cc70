using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// Merges shard partials into the global summary. Partials are summed in shard order, so the result is
/// the same bit for bit whichever silos ran the shards and in whatever order they finished.
/// </summary>
public static class SummaryBuilder
{
    public static Summary Build(IEnumerable<ShardPartial> partials, string[]? classNames)
    {
        var ordered = partials.OrderBy(p => p.ShardIndex).ToArray();
        if (ordered.Length == 0) throw new ArgumentException("no partials to merge", nameof(partials));
        var classes = ordered[0].PredictedCounts.Length;
        var names = classNames ?? [.. Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];

        var predicted = Sum(ordered.Select(p => p.PredictedCounts));
        var inputs = new InputSummary(ordered[0].InputShape,
            ClassMeans(Sum(ordered.Select(p => p.InputClassCount)), Sum(ordered.Select(p => p.InputClassSum)), names));

        var methods = new Dictionary<string, MethodSummary>(StringComparer.Ordinal);
        foreach (var name in ordered[0].Methods.Select(m => m.Method))
        {
            var parts = ordered.Select(p => p.Methods.Single(m => m.Method == name)).ToArray();
            var counts = Sum(parts.Select(m => m.ClassCounts));
            var absSum = Sum(parts.Select(m => m.ClassAbsSum));
            var mapSize = parts[0].MapShape.Aggregate(1, (a, b) => a * b);
            var total = counts.Sum();
            var meanAbsMap = new double[mapSize];
            for (var c = 0; c < classes; c++)
                for (var j = 0; j < mapSize; j++) meanAbsMap[j] += absSum[c * mapSize + j];
            for (var j = 0; j < mapSize; j++) meanAbsMap[j] /= total;
            methods[name] = new MethodSummary(parts[0].MapShape, meanAbsMap.Average(), meanAbsMap,
                ClassMeans(counts, Sum(parts.Select(m => m.ClassSum)), names));
        }

        var errors = ordered[0].Errors is null ? null : Errors([.. ordered.Select(p => p.Errors!)], classes, names);
        return new Summary(ordered.Sum(p => p.Count), names, predicted, errors, methods, inputs);
    }

    private static ErrorAnalysis Errors(ErrorPartial[] parts, int classes, string[] names)
    {
        var confusion = Sum(parts.Select(p => p.Confusion));
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

        var binCount = Sum(parts.Select(p => p.BinCount));
        var binConfidence = Sum(parts.Select(p => p.BinConfidence));
        var binCorrect = Sum(parts.Select(p => p.BinCorrect));
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

        var top = parts.SelectMany(p => p.TopLoss).OrderBy(e => e, ErrorStatistics.TopLossOrder.Instance)
            .Take(ErrorStatistics.TopLossCount)
            .Select(e => new TopLoss(e.Index, e.Loss, e.Label, e.Prediction, e.Confidence, e.Shard, e.Row)).ToArray();
        var confused = new List<ConfusedPair>();
        for (var l = 0; l < classes; l++)
            for (var p = 0; p < classes; p++)
                if (l != p && confusion[l * classes + p] > 0)
                    confused.Add(new ConfusedPair(l, p, names[l], names[p], confusion[l * classes + p]));
        var mostConfused = confused.OrderByDescending(c => c.Count).ThenBy(c => c.Label).ThenBy(c => c.Prediction).Take(10).ToArray();
        var matrix = Enumerable.Range(0, classes).Select(r => confusion.AsSpan(r * classes, classes).ToArray()).ToArray();
        return new ErrorAnalysis((double)correct / n, parts.Sum(p => p.SumNll) / n, matrix, perClass, ece, reliability, top, mostConfused);
    }

    private static ClassMap[] ClassMeans(long[] counts, double[] sums, string[] names)
    {
        var size = counts.Length == 0 ? 0 : sums.Length / counts.Length;
        return [.. Enumerable.Range(0, counts.Length).Select(c => new ClassMap(c, names[c], counts[c],
            [.. sums.AsSpan(c * size, size).ToArray().Select(v => counts[c] == 0 ? 0 : v / counts[c])]))];
    }

    private static long[] Sum(IEnumerable<long[]> arrays) => Sum(arrays, (a, b) => a + b);

    private static double[] Sum(IEnumerable<double[]> arrays) => Sum(arrays, (a, b) => a + b);

    private static T[] Sum<T>(IEnumerable<T[]> arrays, Func<T, T, T> add)
    {
        T[]? total = null;
        foreach (var a in arrays)
        {
            if (total is null) { total = (T[])a.Clone(); continue; }
            for (var i = 0; i < a.Length; i++) total[i] = add(total[i], a[i]);
        }
        return total ?? [];
    }
}
