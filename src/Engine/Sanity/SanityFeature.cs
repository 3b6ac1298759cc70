using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Sanity;

/// <summary>The model-randomisation check of the map methods: summary.json's <c>sanity</c>, and one sample's cascade beside it.</summary>
public sealed class SanityFeature : Feature<SanityPartial, SanityFeature.Sums>
{
    public static readonly SanityFeature Instance = new();

    public override string Name => "sanity";

    public override string Section => "sanity";

    public override SanityPartial? Compute(ShardOutcome s) => s.Result.Sanity?.Partial();

    public override void Write(BinaryWriter w, SanityPartial s)
    {
        w.Write(s.Layers.Length);
        foreach (var layer in s.Layers) w.Write(layer);
        w.Write(s.Count);
        w.Write(s.Methods.Length);
        foreach (var m in s.Methods)
        {
            w.Write(m.Method);
            WriteArray(w, m.Spearman);
            WriteArray(w, m.Ssim);
            WriteArray(w, m.LastByStratum ?? []);
        }
        w.Write(s.Example is not null);
        if (s.Example is { } example)
        {
            w.Write(example.Index);
            w.Write(example.Height);
            w.Write(example.Width);
            WriteArray(w, example.Scores);
        }
    }

    public override SanityPartial Read(BinaryReader r)
    {
        var layers = new string[r.ReadInt32()];
        for (var i = 0; i < layers.Length; i++) layers[i] = r.ReadString();
        var samples = r.ReadInt64();
        var sums = new SanitySums[r.ReadInt32()];
        for (var i = 0; i < sums.Length; i++) sums[i] = new SanitySums(r.ReadString(), ReadArray<double>(r), ReadArray<double>(r), ReadArray<double>(r) is { Length: > 0 } last ? last : null);
        var example = r.ReadBoolean() ? new SanityExample(r.ReadInt64(), r.ReadInt32(), r.ReadInt32(), ReadArray<float>(r)) : null;
        return new SanityPartial(layers, samples, sums, example);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(SanityFeature feature) : FeatureSums<SanityPartial>(feature.Decode)
    {
        private SanityStatistics? _total;

        public override void Fold(SanityPartial partial) => _total = SanityStatistics.Fold(_total, partial);

        /// <summary>The check's result (for the features that read it), without its arrays, as <see cref="Summarise"/> has it.</summary>
        public SanitySummary? Result(SummaryDraft draft) => _total?.Summary(draft.Settings.Verdicts.SanityMaxSimilarity, Strata(draft), draft.Settings.Confidence).Summary;

        /// <summary>The dataset's count per stratum, to reweight the stratified sample; null without it.</summary>
        private static long[]? Strata(SummaryDraft draft) => draft.Sums<Stats.StrataFeature.Sums>()?.Counts;

        public override object? Summarise(SummaryDraft draft)
        {
            if (_total?.Summary(draft.Settings.Verdicts.SanityMaxSimilarity, Strata(draft), draft.Settings.Confidence) is not { } summary) return null;
            if (summary.Example is { } cascade) draft.Arrays.Add(cascade);
            return summary.Summary;
        }
    }
}

/// <summary>summary.json's <c>sanity</c>, read as its record.</summary>
public static class SummarySanity
{
    extension(Stats.Summary summary)
    {
        /// <summary>Null when the job did not ask for the sanity check.</summary>
        public SanitySummary? Sanity => summary.Section<SanitySummary>(SanityFeature.Instance.Section);
    }
}
