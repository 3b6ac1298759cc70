using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Views;

/// <summary>The <c>activations</c> view: per layer and target class, channel means: summary.json's <c>views.activations</c>.</summary>
public sealed class ActivationsFeature : Feature<ActivationsPartial, ActivationsFeature.Sums>
{
    public static readonly ActivationsFeature Instance = new();

    public override string Name => "activations";

    public override string Section => "views.activations";

    public override ActivationsPartial? Compute(ShardOutcome s) => s.Result.Views?.Activations;

    public override void Write(BinaryWriter w, ActivationsPartial activations)
    {
        w.Write(activations.Layers.Length);
        foreach (var l in activations.Layers)
        {
            w.Write(l.Layer);
            w.Write(l.Channels);
            WriteArray(w, l.ClassCounts);
            WriteArray(w, l.ClassSums);
            WriteArray(w, l.Fired);
            w.Write(l.NonPositive);
            w.Write(l.Elements);
        }
    }

    public override ActivationsPartial Read(BinaryReader r)
    {
        var layers = new LayerActivationSums[r.ReadInt32()];
        for (var i = 0; i < layers.Length; i++)
            layers[i] = new LayerActivationSums(r.ReadString(), r.ReadInt32(), ReadArray<long>(r), ReadArray<double>(r), ReadArray<long>(r), r.ReadInt64(), r.ReadInt64());
        return new ActivationsPartial(layers);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(ActivationsFeature feature) : FeatureSums<ActivationsPartial>(feature.Decode)
    {
        private ActivationStatistics? _total;

        public override void Fold(ActivationsPartial partial) => _total = ActivationStatistics.Fold(_total, partial);

        public override object? Summarise(SummaryDraft draft)
        {
            if (_total?.Summary(draft.Names) is not { } summary) return null;
            draft.Arrays.AddRange(summary.Arrays);
            return summary.Summary;
        }
    }
}
