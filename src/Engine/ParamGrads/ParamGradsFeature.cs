using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.ParamGrads;

/// <summary>Per-sample parameter gradients' norms by (class, correct) cell, per layer, and the largest: summary.json's <c>paramGrads</c>.</summary>
public sealed class ParamGradsFeature : Feature<ParamGradPartial, ParamGradsFeature.Sums>
{
    public static readonly ParamGradsFeature Instance = new();

    public override string Name => "param-grads";

    public override string Section => "paramGrads";

    public override ParamGradPartial? Compute(ShardOutcome s) =>
        s.Result.ParamGradLayers is { } layers ? ParamGradStatistics.Partial(layers, s.Result, s.Shard.Index) : null;

    public override void Write(BinaryWriter w, ParamGradPartial g)
    {
        w.Write(g.Layers.Length);
        foreach (var l in g.Layers)
        {
            w.Write(l.Name);
            w.Write(l.Parameters);
            w.Write(l.Vectorised);
            w.Write(l.How);
        }
        WriteArray(w, g.CellCounts);
        WriteArray(w, g.CellNormSums);
        WriteArray(w, g.CellHistograms);
        WriteArray(w, g.CellNormSquares);
        w.Write(g.Largest.Length);
        foreach (var entry in g.Largest)
        {
            w.Write(entry.Index);
            w.Write(entry.Norm);
            w.Write(entry.Label);
            w.Write(entry.Prediction);
            w.Write(entry.Shard);
            w.Write(entry.Row);
        }
    }

    public override ParamGradPartial Read(BinaryReader r)
    {
        var layers = new ParamGradLayer[r.ReadInt32()];
        for (var i = 0; i < layers.Length; i++) layers[i] = new ParamGradLayer(r.ReadString(), r.ReadInt64(), r.ReadBoolean(), r.ReadString());
        var (counts, sums, histograms, squares) = (ReadArray<long>(r), ReadArray<double>(r), ReadArray<long>(r), ReadArray<double>(r));
        var largest = new NormEntry[r.ReadInt32()];
        for (var i = 0; i < largest.Length; i++)
            largest[i] = new NormEntry(r.ReadInt64(), r.ReadDouble(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32(), r.ReadInt32());
        return new ParamGradPartial(layers, counts, sums, histograms, largest, squares);
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(ParamGradsFeature feature) : FeatureSums<ParamGradPartial>(feature.Decode)
    {
        private ParamGradStatistics? _total;

        public override void Fold(ParamGradPartial partial) => _total = ParamGradStatistics.Fold(_total, partial);

        // Each layer's mean norm is the method's own mean |map| (its map is the per-layer norms).
        public override object? Summarise(SummaryDraft draft) =>
            _total?.Summary(draft.Names, draft.Sums<MethodsFeature.Sums>()?.MeanAbs(ParamGradsMethod.MethodName), draft.Settings.Confidence);
    }
}

/// <summary>summary.json's <c>paramGrads</c>, read as its record.</summary>
public static class SummaryParamGrads
{
    extension(Summary summary)
    {
        /// <summary>Null when the job did not run param-grads.</summary>
        public ParamGradSummary? ParamGrads => summary.Section<ParamGradSummary>(ParamGradsFeature.Instance.Section);
    }
}
