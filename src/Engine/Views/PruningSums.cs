namespace ExplainCluster.Engine.Views;

/// <summary>
/// The importance pass's sums over a set of samples, which add across shards (<see cref="Add"/>): how many samples,
/// and with nothing zeroed (the baseline) and with each channel c of the layer zeroed alone, how many were still
/// correct (argmax == label; 0 when <see cref="Labelled"/> is false) and the sum of the target class's softmax probability.
/// </summary>
/// <param name="Labelled">Whether the samples had labels (every shard of a job agrees).</param>
/// <param name="Samples">The number of samples summed over.</param>
/// <param name="BaselineCorrect">Samples correct with nothing zeroed.</param>
/// <param name="BaselineProbability">Σ target probability with nothing zeroed.</param>
/// <param name="Correct">[channels]: samples correct with channel c zeroed.</param>
/// <param name="Probability">[channels]: Σ target probability with channel c zeroed.</param>
public sealed record ImportanceSums(bool Labelled, long Samples, long BaselineCorrect, double BaselineProbability, long[] Correct, double[] Probability)
{
    public int Channels => Correct.Length;

    public ImportanceSums Add(ImportanceSums other)
    {
        if (other.Labelled != Labelled || other.Channels != Channels)
            throw new ArgumentException($"cannot add pruning sums over {other.Channels} channels (labelled: {other.Labelled}) to sums over {Channels} (labelled: {Labelled})");
        return new ImportanceSums(Labelled, Samples + other.Samples, BaselineCorrect + other.BaselineCorrect, BaselineProbability + other.BaselineProbability,
            [.. Correct.Zip(other.Correct, (a, b) => a + b)], [.. Probability.Zip(other.Probability, (a, b) => a + b)]);
    }
}

/// <summary>
/// The curve pass's sums, which add across shards (<see cref="Add"/>): for each count k in <see cref="Removed"/>, with
/// the k least important channels of the ranking zeroed together, how many samples were correct (0 without labels)
/// and Σ target probability. <c>Removed[0]</c> is 0, the baseline.
/// </summary>
public sealed record CurveSums(bool Labelled, long Samples, int[] Removed, long[] Correct, double[] Probability)
{
    public CurveSums Add(CurveSums other)
    {
        if (other.Labelled != Labelled || !other.Removed.AsSpan().SequenceEqual(Removed))
            throw new ArgumentException("cannot add pruning curve sums over different channel counts or with and without labels");
        return new CurveSums(Labelled, Samples + other.Samples, Removed,
            [.. Correct.Zip(other.Correct, (a, b) => a + b)], [.. Probability.Zip(other.Probability, (a, b) => a + b)]);
    }
}

/// <summary>
/// Channels ordered least important first (the curve zeroes them in this order), the same channels most important first
/// (<see cref="ByHarm"/>: the largest drop first, ties by probability drop, then by the lower index), and each channel's
/// drop (indexed by channel): the accuracy drop (baseline accuracy − accuracy with the channel zeroed, a fraction) with
/// labels, else the drop in mean target probability; <see cref="ProbabilityDrop"/> is the latter in both cases.
/// </summary>
public sealed record ChannelRanking(int[] Order, double[] Drop, double[] ProbabilityDrop, int[] ByHarm);

/// <summary>
/// The pruning curve: for each k in <see cref="Removed"/>, the accuracy (null without labels) and mean target
/// probability with the k least important channels zeroed; <see cref="MaxRemovable"/> is the largest such k whose
/// loss is at most one percentage point: accuracy(k) ≥ accuracy(0) − 0.01 (computed on the counts, exactly), or
/// without labels meanProbability(k) ≥ meanProbability(0) − 0.01.
/// </summary>
public sealed record PruningCurve(int[] Removed, double[]? Accuracy, double[] MeanProbability, int MaxRemovable);

/// <summary>Ranking from merged importance sums, and the curve's summary from merged curve sums: plain arithmetic, no tensors.</summary>
public static class PruningSummary
{
    /// <summary>Every k up to <see cref="DenseUpTo"/>; beyond it a geometric grid.</summary>
    public const int DenseUpTo = 128;

    /// <summary>The grid's ratio beyond <see cref="DenseUpTo"/>: 2^(1/16), about 4.4% more channels a step.</summary>
    public static readonly double GridRatio = Math.Pow(2, 1.0 / 16);

    /// <summary>
    /// The counts k the curve is measured at for a layer of <paramref name="channels"/>: every k from 0 to
    /// min(channels, 128), then k ← max(k + 1, round(k·2^(1/16))) up to channels, which is always the last
    /// (2048 channels: 129 + 65 points).
    /// </summary>
    public static int[] CurvePoints(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(channels);
        var points = Enumerable.Range(0, Math.Min(channels, DenseUpTo) + 1).ToList();
        for (var k = points[^1]; k < channels;)
        {
            k = Math.Min(channels, Math.Max(k + 1, (int)Math.Round(k * GridRatio)));
            points.Add(k);
        }
        return [.. points];
    }

    /// <summary>
    /// Channels least important first: by drop (accuracy with labels, else mean target probability), then, with
    /// labels, by the probability drop (accuracy ties are common: counts are integers), then by channel index.
    /// </summary>
    public static ChannelRanking Rank(ImportanceSums sums)
    {
        var n = Math.Max(1, sums.Samples);
        var probabilityDrop = sums.Probability.Select(p => (sums.BaselineProbability - p) / n).ToArray();
        var drop = sums.Labelled ? sums.Correct.Select(c => (double)(sums.BaselineCorrect - c) / n).ToArray() : probabilityDrop;
        var order = Enumerable.Range(0, sums.Channels)
            .OrderBy(c => sums.Labelled ? sums.BaselineCorrect - sums.Correct[c] : 0)
            .ThenBy(c => probabilityDrop[c])
            .ThenBy(c => c)
            .ToArray();
        var byHarm = Enumerable.Range(0, sums.Channels)
            .OrderByDescending(c => sums.Labelled ? sums.BaselineCorrect - sums.Correct[c] : 0)
            .ThenByDescending(c => probabilityDrop[c])
            .ThenBy(c => c)
            .ToArray();
        return new ChannelRanking(order, drop, probabilityDrop, byHarm);
    }

    public static PruningCurve Summarize(CurveSums sums)
    {
        if (sums.Removed is not [0, ..]) throw new ArgumentException("the curve must start at k = 0, the baseline", nameof(sums));
        var n = Math.Max(1, sums.Samples);
        var accuracy = sums.Labelled ? sums.Correct.Select(c => (double)c / n).ToArray() : null;
        var probability = sums.Probability.Select(p => p / n).ToArray();
        var max = 0;
        for (var i = 0; i < sums.Removed.Length; i++)
        {
            // accuracy(k) ≥ accuracy(0) − 0.01 ⇔ 100·(correct(0) − correct(k)) ≤ n, in integers.
            var within = sums.Labelled ? 100 * (sums.Correct[0] - sums.Correct[i]) <= sums.Samples : probability[i] >= probability[0] - 0.01;
            if (within) max = Math.Max(max, sums.Removed[i]);
        }
        return new PruningCurve(sums.Removed, accuracy, probability, max);
    }
}
