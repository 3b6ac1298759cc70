using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The <c>pruning</c> view: each channel's importance from the explain pass, the curve from the post pass (its sums
/// added in shard order, so they are the same bit for bit whatever order the post attempts finished in):
/// summary.json's <c>views.pruning</c>.
/// </summary>
public sealed class PruningFeature : Feature<PruningImportancePartial, PruningFeature.Sums>
{
    public static readonly PruningFeature Instance = new();

    public override string Name => "pruning";

    public override string Section => "views.pruning";

    public override PruningImportancePartial? Compute(ShardOutcome s) => s.Result.Views?.Pruning;

    public override void Write(BinaryWriter w, PruningImportancePartial pruning)
    {
        w.Write(pruning.Labelled);
        w.Write(pruning.Samples);
        w.Write(pruning.BaselineCorrect);
        w.Write(pruning.BaselineProbability);
        WriteArray(w, pruning.Correct);
        WriteArray(w, pruning.Probability);
    }

    public override PruningImportancePartial Read(BinaryReader r) =>
        new(r.ReadBoolean(), r.ReadInt64(), r.ReadInt64(), r.ReadDouble(), ReadArray<long>(r), ReadArray<double>(r));

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(PruningFeature feature) : FeatureSums<PruningImportancePartial>(feature.Decode), IPostFeatureSums
    {
        private readonly SortedDictionary<int, PruningCurvePartial> _curves = [];

        /// <summary>The first pass over the whole sample, once every shard is folded; null before any.</summary>
        public ImportanceSums? Importance { get; private set; }

        public override void Fold(PruningImportancePartial pr)
        {
            var sums = new ImportanceSums(pr.Labelled, pr.Samples, pr.BaselineCorrect, pr.BaselineProbability, pr.Correct, pr.Probability);
            Importance = Importance is null ? sums : Importance.Add(sums);
        }

        public void AddPost(PostPartial post)
        {
            if (post.Curve is { } c) _curves[post.ShardIndex] = c;
        }

        private CurveSums? Curve() => _curves.Values
            .Select(c => new CurveSums(c.Labelled, c.Samples, c.Removed, c.Correct, c.Probability))
            .Aggregate((CurveSums?)null, (total, sums) => total is null ? sums : total.Add(sums));

        public override object? Summarise(SummaryDraft draft) => Importance is null ? null : PruningView.Of(Importance, Curve(), draft.Settings.Confidence);
    }
}
