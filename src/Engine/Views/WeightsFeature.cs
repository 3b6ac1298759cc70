using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Views;

/// <summary>The <c>weights</c> view, computed once per job (by the shard at sample 0): summary.json's <c>views.weights</c>.</summary>
public sealed class WeightsFeature : Feature<WeightsPartial, WeightsFeature.Sums>
{
    public static readonly WeightsFeature Instance = new();

    public override string Name => "weights";

    public override string Section => "views.weights";

    public override WeightsPartial? Compute(ShardOutcome s) => s.Result.Views?.Weights;

    public override void Write(BinaryWriter w, WeightsPartial weights)
    {
        w.Write(weights.Parameters.Length);
        foreach (var stats in weights.Parameters)
        {
            w.Write(stats.Name);
            WriteArray(w, stats.Shape);
            foreach (var v in new[] { stats.Norm, stats.Mean, stats.Std, stats.NearZero, stats.Min, stats.Max }) w.Write(v);
            WriteArray(w, stats.Histogram);
        }
        w.Write(weights.FirstConv ?? "");
        WriteArray(w, weights.FirstConvShape);
        WriteArray(w, weights.FirstConvFilters);
    }

    public override WeightsPartial Read(BinaryReader r)
    {
        var parameters = new ParameterStatistics[r.ReadInt32()];
        for (var i = 0; i < parameters.Length; i++)
            parameters[i] = new ParameterStatistics(r.ReadString(), ReadArray<long>(r), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                r.ReadDouble(), r.ReadDouble(), ReadArray<long>(r));
        var firstConv = r.ReadString();
        return new WeightsPartial(parameters, firstConv.Length == 0 ? null : firstConv, ReadArray<int>(r), ReadArray<float>(r));
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(WeightsFeature feature) : FeatureSums<WeightsPartial>(feature.Decode)
    {
        private WeightsPartial? _weights;

        public override void Fold(WeightsPartial partial) => _weights ??= partial;

        public override object? Summarise(SummaryDraft draft)
        {
            if (_weights is null) return null;
            var (summary, filters) = WeightsSummary.Of(_weights);
            if (filters is not null) draft.Arrays.Add(filters);
            return summary;
        }
    }
}
