using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Engine.Stats;

/// <summary>Error analysis (labels given): confusion, NLL, calibration bins and the highest losses; summary.json's <c>errorAnalysis</c>.</summary>
public sealed class ErrorsFeature : Feature<ErrorPartial, ErrorsFeature.Sums>
{
    public static readonly ErrorsFeature Instance = new();

    public override string Name => "errors";

    public override string Section => "errorAnalysis";

    public override ErrorPartial? Compute(ShardOutcome s) => s.Data.Labels is null ? null
        : ErrorStatistics.Partial(s.Shard.Index, s.Data.IndexOf, s.Data.Labels, s.Result.Predictions, s.Result.Confidence, s.Result.Loss!, s.Result.Classes);

    public override void Write(BinaryWriter w, ErrorPartial e)
    {
        WriteArray(w, e.Confusion);
        w.Write(e.SumNll);
        WriteArray(w, e.BinCount);
        WriteArray(w, e.BinConfidence);
        WriteArray(w, e.BinCorrect);
        w.Write(e.TopLoss.Length);
        foreach (var t in e.TopLoss)
        {
            w.Write(t.Index);
            w.Write(t.Loss);
            w.Write(t.Label);
            w.Write(t.Prediction);
            w.Write(t.Confidence);
            w.Write(t.Shard);
            w.Write(t.Row);
        }
    }

    public override ErrorPartial Read(BinaryReader r)
    {
        var (confusion, sumNll, binCount, binConfidence, binCorrect) = (ReadArray<long>(r), r.ReadDouble(), ReadArray<long>(r), ReadArray<double>(r), ReadArray<long>(r));
        var top = new LossEntry[r.ReadInt32()];
        for (var i = 0; i < top.Length; i++)
            top[i] = new LossEntry(r.ReadInt64(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32());
        return new ErrorPartial(confusion, sumNll, binCount, binConfidence, binCorrect, top);
    }

    public override Sums NewSums(int classes) => new(this, classes);

    public sealed class Sums(ErrorsFeature feature, int classes) : FeatureSums<ErrorPartial>(feature.Decode)
    {
        private readonly long[] _confusion = new long[classes * classes];
        private readonly long[] _binCount = new long[ErrorStatistics.CalibrationBins];
        private readonly double[] _binConfidence = new double[ErrorStatistics.CalibrationBins];
        private readonly long[] _binCorrect = new long[ErrorStatistics.CalibrationBins];
        private double _sumNll;
        private LossEntry[] _top = [];

        public override void Fold(ErrorPartial e)
        {
            Totals.Add(_confusion, e.Confusion);
            Totals.Add(_binCount, e.BinCount);
            Totals.Add(_binConfidence, e.BinConfidence);
            Totals.Add(_binCorrect, e.BinCorrect);
            _sumNll += e.SumNll;
            _top = ErrorStatistics.Top(_top.Concat(e.TopLoss));
        }

        public override object? Summarise(SummaryDraft draft)
        {
            var confusionFile = OutputLayout.SummaryArray("confusion");
            draft.Arrays.Add(new SummaryArray(confusionFile, [classes, classes], (long[])_confusion.Clone()));
            return ErrorAnalysisOf(new ErrorPartial(_confusion, _sumNll, _binCount, _binConfidence, _binCorrect, _top), classes, draft.Names, confusionFile,
                draft.Settings.Confidence);
        }
    }

    private static ErrorAnalysis ErrorAnalysisOf(ErrorPartial sums, int classes, string[] names, string confusionFile, double confidence)
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
            perClass[c] = new ClassMetrics(c, names[c], support, recall, precision, recall, f1,
                Intervals.Wilson(tp, support, confidence), Intervals.Wilson(tp, predictedAs, confidence));
        }

        var (binCount, binConfidence, binCorrect) = (sums.BinCount, sums.BinConfidence, sums.BinCorrect);
        var reliability = new ReliabilityBin[ErrorStatistics.CalibrationBins];
        double ece = 0;
        for (var b = 0; b < reliability.Length; b++)
        {
            var count = binCount[b];
            var meanConfidence = count == 0 ? 0 : binConfidence[b] / count;
            var accuracy = count == 0 ? 0 : (double)binCorrect[b] / count;
            reliability[b] = new ReliabilityBin(b, (double)b / reliability.Length, (double)(b + 1) / reliability.Length, count, meanConfidence, accuracy,
                Intervals.Wilson(binCorrect[b], count, confidence));
            ece += (double)count / n * Math.Abs(accuracy - meanConfidence);
        }

        var top = sums.TopLoss.Select(e => new TopLoss(e.Index, e.Loss, e.Label, e.Prediction, e.Confidence, e.Shard, e.Row)).ToArray();
        var confused = new List<ConfusedPair>();
        for (var l = 0; l < classes; l++)
            for (var p = 0; p < classes; p++)
                if (l != p && confusion[l * classes + p] > 0)
                    confused.Add(new ConfusedPair(l, p, names[l], names[p], confusion[l * classes + p]));
        var mostConfused = confused.OrderByDescending(c => c.Count).ThenBy(c => c.Label).ThenBy(c => c.Prediction).Take(10).ToArray();
        return new ErrorAnalysis((double)correct / n, sums.SumNll / n, confusionFile, perClass, ece, reliability, top, mostConfused,
            Intervals.Wilson(correct, n, confidence), confidence);
    }
}
