using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Faithfulness;

/// <summary>Deletion and insertion curves of every pixel map: summary.json's <c>faithfulness</c>.</summary>
public sealed class FaithfulnessFeature : Feature<FaithfulnessPartial, FaithfulnessFeature.Sums>
{
    public static readonly FaithfulnessFeature Instance = new();

    public override string Name => "faithfulness";

    public override string Section => "faithfulness";

    public override FaithfulnessPartial? Compute(ShardOutcome s) =>
        s.Result.Faithfulness is { } f ? FaithfulnessStatistics.Partial(f, s.Result.Targets, s.Result.Classes) : null;

    public override void Write(BinaryWriter w, FaithfulnessPartial f)
    {
        w.Write(f.Steps);
        WriteArray(w, f.ClassCounts);
        w.Write(f.Methods.Length);
        foreach (var m in f.Methods)
        {
            w.Write(m.Method);
            foreach (var sums in new[] { m.Deletion, m.Insertion, m.ClassAuc }) WriteArray(w, sums);
            WriteArray(w, m.Counts);
            WriteArray(w, m.ClassSquares);
        }
    }

    public override FaithfulnessPartial Read(BinaryReader r)
    {
        var (steps, classCounts) = (r.ReadInt32(), ReadArray<long>(r));
        var curves = new CurveSums[r.ReadInt32()];
        for (var i = 0; i < curves.Length; i++) curves[i] = new CurveSums(r.ReadString(), ReadArray<double>(r), ReadArray<double>(r), ReadArray<double>(r), ReadArray<long>(r), ReadArray<double>(r));
        return new FaithfulnessPartial(steps, classCounts, curves);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(FaithfulnessFeature feature) : FeatureSums<FaithfulnessPartial>(feature.Decode)
    {
        private FaithfulnessStatistics? _total;

        public override void Fold(FaithfulnessPartial partial) => _total = FaithfulnessStatistics.Fold(_total, partial);

        public override object? Summarise(SummaryDraft draft) => _total?.Summary(draft.Names, draft.Settings.Confidence);
    }
}

/// <summary>summary.json's <c>faithfulness</c>, read as its record.</summary>
public static class SummaryFaithfulness
{
    extension(Stats.Summary summary)
    {
        /// <summary>Null when the job did not ask for faithfulness.</summary>
        public FaithfulnessSummary? Faithfulness => summary.Section<FaithfulnessSummary>(FaithfulnessFeature.Instance.Section);
    }
}
