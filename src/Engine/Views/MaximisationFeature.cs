using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// The <c>maximisation</c> view: from the explain pass, the Grad-CAM layer's α per channel summed over every sample
/// (which channels to maximise); from the post pass, the maximising inputs: summary.json's <c>views.maximisation</c>.
/// </summary>
public sealed class MaximisationFeature : Feature<double[], MaximisationFeature.Sums>
{
    public static readonly MaximisationFeature Instance = new();

    public override string Name => "channel-weights";

    public override string Section => "views.maximisation";

    public override double[]? Compute(ShardOutcome s) => s.Result.Views?.ChannelWeightSums;

    public override void Write(BinaryWriter w, double[] channelWeights) => WriteArray(w, channelWeights);

    public override double[] Read(BinaryReader r) => ReadArray<double>(r);

    public override Sums NewSums(int classes) => new(this);

    public sealed class Sums(MaximisationFeature feature) : FeatureSums<double[]>(feature.Decode), IPostFeatureSums
    {
        private readonly List<MaximisationImage> _images = [];

        /// <summary>The Grad-CAM layer's α per channel summed over every sample; null unless maximisation asked for channels.</summary>
        public double[]? ChannelWeights { get; private set; }

        public override void Fold(double[] partial)
        {
            ChannelWeights ??= new double[partial.Length];
            Totals.Add(ChannelWeights, partial);
        }

        public void AddPost(PostPartial post) => _images.AddRange(post.Images);

        public override object? Summarise(SummaryDraft draft)
        {
            if (_images.Count == 0) return null;
            var (summary, arrays) = MaximisationView.Of(_images, draft.Names);
            draft.Arrays.AddRange(arrays);
            return summary;
        }
    }
}
