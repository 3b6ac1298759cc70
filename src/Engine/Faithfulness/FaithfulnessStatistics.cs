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
        _sums = [.. first.Methods.Select(m => new CurveSums(m.Method, new double[m.Deletion.Length], new double[m.Insertion.Length], new double[m.ClassAuc.Length]))];
    }

    /// <summary>A shard's sums; <paramref name="targets"/> is each sample's target class.</summary>
    public static FaithfulnessPartial Partial(FaithfulnessResult result, long[] targets, int classes)
    {
        var points = result.Steps + 1;
        var counts = new long[classes];
        foreach (var t in targets) counts[t]++;
        var methods = result.Orderings.Select(o =>
        {
            var (deletion, insertion, auc) = (new double[points], new double[points], new double[2L * classes]);
            for (var i = 0; i < targets.Length; i++)
            {
                for (var k = 0; k < points; k++)
                {
                    deletion[k] += o.Deletion[i * points + k];
                    insertion[k] += o.Insertion[i * points + k];
                }
                auc[2 * targets[i]] += o.DeletionAuc[i];
                auc[2 * targets[i] + 1] += o.InsertionAuc[i];
            }
            return new CurveSums(o.Method, deletion, insertion, auc);
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
        }
        return total;
    }

    public FaithfulnessSummary Summary(string[] classNames)
    {
        var total = _counts.Sum();
        var methods = new Dictionary<string, FaithfulnessMethod>(StringComparer.Ordinal);
        foreach (var m in _sums)
        {
            var perClass = ShardPartial.ClassRows(_counts).Select(c =>
                new FaithfulnessClass(c, classNames[c], _counts[c], m.ClassAuc[2 * c] / _counts[c], m.ClassAuc[2 * c + 1] / _counts[c]));
            double Mean(int kind) => Enumerable.Range(0, _counts.Length).Sum(c => m.ClassAuc[2 * c + kind]) / total;
            methods[m.Method] = new FaithfulnessMethod(Mean(0), Mean(1),
                Array.ConvertAll(m.Deletion, v => v / total), Array.ConvertAll(m.Insertion, v => v / total), [.. perClass]);
        }
        return new FaithfulnessSummary(_steps, methods);
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
/// insertion AUC over all samples and per target class, and the mean curves ([steps + 1]: p_k at k/steps of the pixels).
/// </summary>
public sealed record FaithfulnessSummary(int Steps, Dictionary<string, FaithfulnessMethod> Methods);

public sealed record FaithfulnessMethod(double DeletionAuc, double InsertionAuc, double[] DeletionCurve, double[] InsertionCurve, FaithfulnessClass[] PerClass);

public sealed record FaithfulnessClass(int Class, string Name, long Count, double DeletionAuc, double InsertionAuc);
