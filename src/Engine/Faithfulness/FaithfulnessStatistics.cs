using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>
/// Faithfulness as sums: a shard's partial from its samples' curves (in sample order, in double), and the
/// job's summary from the partials folded in shard order.
/// </summary>
public sealed class FaithfulnessStatistics
{
    private readonly int _steps;
    private readonly long[] _counts;
    private readonly CurveSums[] _sums;

    private FaithfulnessStatistics(FaithfulnessPartial first)
    {
        _steps = first.Steps;
        _counts = new long[first.ClassCounts.Length];
        _sums = [.. first.Methods.Select(m => new CurveSums(m.Method, new double[m.Deletion.Length], new double[m.Insertion.Length], new double[m.ClassAuc.Length],
            new long[m.Counts.Length], new double[m.ClassSquares.Length]))];
    }

    /// <summary>A shard's sums; <paramref name="targets"/> is each sample's target class. A sample an ordering did not
    /// evaluate (outside a method's subset: NaN) is left out of that ordering's sums.</summary>
    public static FaithfulnessPartial Partial(FaithfulnessResult result, long[] targets, int classes)
    {
        var points = result.Steps + 1;
        var counts = new long[classes];
        foreach (var t in targets) counts[t]++;
        var methods = result.Orderings.Select(o =>
        {
            var (deletion, insertion, auc, squares, evaluated) = (new double[points], new double[points], new double[2L * classes], new double[2L * classes], new long[classes]);
            for (var i = 0; i < targets.Length; i++)
            {
                if (double.IsNaN(o.DeletionAuc[i])) continue;
                for (var k = 0; k < points; k++)
                {
                    deletion[k] += o.Deletion[i * points + k];
                    insertion[k] += o.Insertion[i * points + k];
                }
                var (d, e) = (o.DeletionAuc[i], o.InsertionAuc[i]);
                (auc[2 * targets[i]], auc[2 * targets[i] + 1]) = (auc[2 * targets[i]] + d, auc[2 * targets[i] + 1] + e);
                (squares[2 * targets[i]], squares[2 * targets[i] + 1]) = (squares[2 * targets[i]] + d * d, squares[2 * targets[i] + 1] + e * e);
                evaluated[targets[i]]++;
            }
            return new CurveSums(o.Method, deletion, insertion, auc, evaluated, squares);
        });
        return new FaithfulnessPartial(result.Steps, counts, [.. methods]);
    }

    /// <summary>Folds <paramref name="partial"/> into <paramref name="total"/> (made from the first partial).</summary>
    public static FaithfulnessStatistics Fold(FaithfulnessStatistics? total, FaithfulnessPartial partial)
    {
        total ??= new FaithfulnessStatistics(partial);
        if (partial.Steps != total._steps || partial.Methods.Length != total._sums.Length)
            throw new ArgumentException("faithfulness partials of different shapes", nameof(partial));
        Add(total._counts, partial.ClassCounts);
        for (var m = 0; m < total._sums.Length; m++)
        {
            var (sum, part) = (total._sums[m], partial.Methods[m]);
            if (sum.Method != part.Method) throw new ArgumentException($"faithfulness of {part.Method} where {sum.Method} was expected", nameof(partial));
            Add(sum.Deletion, part.Deletion);
            Add(sum.Insertion, part.Insertion);
            Add(sum.ClassAuc, part.ClassAuc);
            Add(sum.Counts, part.Counts);
            Add(sum.ClassSquares, part.ClassSquares);
        }
        return total;
    }

    /// <summary>
    /// Per ordering, the mean AUCs over the samples it evaluated with their intervals at <paramref name="confidence"/>
    /// (a method with a subset: over its subset, which <see cref="FaithfulnessMethod.Samples"/> says), per class too.
    /// </summary>
    public FaithfulnessSummary Summary(string[] classNames, double confidence = Stats.Intervals.DefaultConfidence)
    {
        var methods = new Dictionary<string, FaithfulnessMethod>(StringComparer.Ordinal);
        foreach (var m in _sums)
        {
            var counts = m.Counts;
            var total = counts.Sum();
            var perClass = ShardPartial.ClassRows(counts).Select(c =>
                new FaithfulnessClass(c, classNames[c], counts[c], m.ClassAuc[2 * c] / counts[c], m.ClassAuc[2 * c + 1] / counts[c]));
            double Sum(double[] values, int kind) => Enumerable.Range(0, counts.Length).Sum(c => values[2 * c + kind]);
            Stats.Estimate Mean(int kind) => Stats.Intervals.Mean(total, Sum(m.ClassAuc, kind), Sum(m.ClassSquares, kind), confidence);
            methods[m.Method] = new FaithfulnessMethod(Sum(m.ClassAuc, 0) / total, Sum(m.ClassAuc, 1) / total,
                Array.ConvertAll(m.Deletion, v => v / total), Array.ConvertAll(m.Insertion, v => v / total), [.. perClass],
                Mean(0), Mean(1), total);
        }
        return new FaithfulnessSummary(_steps, methods, _counts.Sum());
    }

    private static void Add(long[] total, long[] part)
    {
        for (var i = 0; i < part.Length; i++) total[i] += part[i];
    }

    private static void Add(double[] total, double[] part)
    {
        for (var i = 0; i < part.Length; i++) total[i] += part[i];
    }
}

/// <summary>
/// summary.json's <c>faithfulness</c>: per ordering (each map method, and <c>random</c>), the mean deletion and
/// insertion AUC over the samples it evaluated and per target class, and the mean curves ([steps + 1]: p_k at k/steps of
/// the pixels); <see cref="Samples"/> is the dataset's.
/// </summary>
public sealed record FaithfulnessSummary(int Steps, Dictionary<string, FaithfulnessMethod> Methods, long Samples);

/// <param name="Deletion">The mean deletion AUC with its interval and n, the samples the ordering evaluated.</param>
/// <param name="Insertion">The mean insertion AUC with its interval.</param>
/// <param name="Samples">The samples evaluated: the dataset's, or a method's subset (its strata as the subset drew them, not reweighted: the verdicts are).</param>
public sealed record FaithfulnessMethod(double DeletionAuc, double InsertionAuc, double[] DeletionCurve, double[] InsertionCurve, FaithfulnessClass[] PerClass,
    Stats.Estimate Deletion, Stats.Estimate Insertion, long Samples);

public sealed record FaithfulnessClass(int Class, string Name, long Count, double DeletionAuc, double InsertionAuc);
