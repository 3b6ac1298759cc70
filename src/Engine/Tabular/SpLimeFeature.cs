using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Options;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Tabular;

/// <summary>
/// lime's <c>spPick</c> (B explanations, 0: off) and <c>spFeatures</c> (the weights each explanation keeps, lime's
/// <c>num_features</c>, 10 by default). Off by default: the pick needs every explained row's weights in one place.
/// </summary>
public sealed record SpPickSpec(int Count, int Features)
{
    /// <summary>The options from lime's own (null when off).</summary>
    public static SpPickSpec? Read(OptionsReader o)
    {
        var count = o.Integer("spPick", 0, 0, 1000);
        var features = o.Integer("spFeatures", 10, 1, 100_000);
        return count == 0 ? null : new SpPickSpec(count, features);
    }

    /// <summary>A table job's pick, as its lime method was given it (null: no lime over a table, or no pick).</summary>
    public static SpPickSpec? Of(JobSpec job) =>
        job.Data.Table is null ? null
        : job.Methods.FirstOrDefault(m => m.Name == Lime.MethodName) is { } spec ? (MethodRegistry.Create(spec, table: true) as TabularLime)?.Pick : null;
}

/// <summary>A shard's lime explanations: each row's dataset index and its weights (row-major, [rows × features]).</summary>
public sealed record SpLimePartial(SpPickSpec Options, string[] Features, long[] Indices, double[] Weights);

/// <summary>summary.json's <c>spLime</c>: the picked explanations in pick order, with the coverage after each pick.</summary>
public sealed record SpLimeSummary(int Count, int KeptFeatures, long Explained, string[] Features, SpLimePick[] Picked);

/// <param name="Weights">The row's lime weights, every feature, in table order.</param>
public sealed record SpLimePick(long Index, double Coverage, double[] Weights);

/// <summary>
/// SP-LIME over the rows lime explained (<see cref="SubmodularPick"/>): each shard sends its rows' weights, folded in
/// shard order into one list ordered by dataset index, so the pick does not depend on the sharding. The subset lime
/// explains is small (its 5000 forwards a row make it so): a few thousand rows are a few hundred KB.
/// </summary>
public sealed class SpLimeFeature : Feature<SpLimePartial, SpLimeFeature.Sums>
{
    public static readonly SpLimeFeature Instance = new();

    public override string Name => "spLime";

    public override string Section => "spLime";

    public override SpLimePartial? Compute(ShardOutcome shard)
    {
        if (shard.Data.SpPick is not { } options || shard.Data.Features is not { } features) return null;
        var f = features.Length;
        if (shard.Result.Methods.FirstOrDefault(m => m.Name == Lime.MethodName && m.MapShape.SequenceEqual([f])) is not { } lime) return null;
        var rows = lime.RowCount(shard.Result.Count);
        var indices = Enumerable.Range(0, rows).Select(i => shard.Data.IndexOf(lime.Rows?[i] ?? i)).ToArray();
        return new SpLimePartial(options, features, indices, [.. lime.Maps.AsSpan(0, rows * f).ToArray().Select(v => (double)v)]);
    }

    public override void Write(BinaryWriter w, SpLimePartial p)
    {
        w.Write(p.Options.Count);
        w.Write(p.Options.Features);
        w.Write(p.Features.Length);
        foreach (var name in p.Features) w.Write(name);
        WriteArray(w, p.Indices);
        WriteArray(w, p.Weights);
    }

    public override SpLimePartial Read(BinaryReader r)
    {
        var options = new SpPickSpec(r.ReadInt32(), r.ReadInt32());
        var features = new string[r.ReadInt32()];
        for (var i = 0; i < features.Length; i++) features[i] = r.ReadString();
        return new SpLimePartial(options, features, ReadArray<long>(r), ReadArray<double>(r));
    }

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(SpLimeFeature feature) : FeatureSums<SpLimePartial>(feature.Decode)
    {
        private SpLimePartial? _first;
        private readonly List<(long Index, double[] Weights)> _rows = [];

        public override void Fold(SpLimePartial partial)
        {
            _first ??= partial;
            var f = partial.Features.Length;
            for (var i = 0; i < partial.Indices.Length; i++) _rows.Add((partial.Indices[i], partial.Weights.AsSpan(i * f, f).ToArray()));
        }

        public override object? Summarise(SummaryDraft draft)
        {
            if (_first is not { } first) return null;
            var rows = _rows.OrderBy(r => r.Index).ToArray();
            var (picked, coverage) = SubmodularPick.Pick([.. rows.Select(r => r.Weights)], first.Options.Count, first.Options.Features);
            return new SpLimeSummary(first.Options.Count, first.Options.Features, rows.Length, first.Features,
                [.. picked.Select((row, p) => new SpLimePick(rows[row].Index, coverage[p], rows[row].Weights))]);
        }
    }
}

/// <summary>summary.json's <c>spLime</c>, read as its record.</summary>
public static class SummarySpLime
{
    extension(Summary summary)
    {
        /// <summary>Null unless lime explained a table with <c>spPick</c>.</summary>
        public SpLimeSummary? SpLime => summary.Section<SpLimeSummary>(SpLimeFeature.Instance.Section);
    }
}
