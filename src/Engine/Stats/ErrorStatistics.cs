using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Stats;

/// <summary>Error analysis as mergeable sums: confusion counts, Σ NLL, calibration bins, top losses.</summary>
public static class ErrorStatistics
{
    public const int CalibrationBins = 15;
    public const int TopLossCount = 16;

    /// <summary>Bin of a confidence in (0, 1]: 15 equal-width bins, upper edges inclusive.</summary>
    public static int Bin(double confidence) => Math.Clamp((int)Math.Ceiling(confidence * CalibrationBins) - 1, 0, CalibrationBins - 1);

    public static ErrorPartial Partial(int shard, Func<int, long> indexOf, long[] labels, int[] predictions, float[] confidence, float[] loss, int classes)
    {
        var confusion = new long[classes * classes];
        var binCount = new long[CalibrationBins];
        var binConfidence = new double[CalibrationBins];
        var binCorrect = new long[CalibrationBins];
        double sumNll = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            confusion[labels[i] * classes + predictions[i]]++;
            var bin = Bin(confidence[i]);
            binCount[bin]++;
            binConfidence[bin] += confidence[i];
            if (labels[i] == predictions[i]) binCorrect[bin]++;
            sumNll += loss[i];
        }
        var top = Top(Enumerable.Range(0, labels.Length).Select(i => new LossEntry(indexOf(i), loss[i], (int)labels[i], predictions[i], confidence[i], shard, i)));
        return new ErrorPartial(confusion, sumNll, binCount, binConfidence, binCorrect, top);
    }

    /// <summary>The <see cref="TopLossCount"/> highest losses of <paramref name="entries"/>, in <see cref="TopLossOrder"/>.</summary>
    public static LossEntry[] Top(IEnumerable<LossEntry> entries) => [.. entries.OrderBy(e => e, TopLossOrder.Instance).Take(TopLossCount)];

    /// <summary>Highest loss first; equal losses by dataset index, so merges are order-independent.</summary>
    public sealed class TopLossOrder : IComparer<LossEntry>
    {
        public static readonly TopLossOrder Instance = new();

        public int Compare(LossEntry? x, LossEntry? y)
        {
            var byLoss = y!.Loss.CompareTo(x!.Loss);
            return byLoss != 0 ? byLoss : x.Index.CompareTo(y.Index);
        }
    }
}
