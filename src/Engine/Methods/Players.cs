using ExplainCluster.Engine.Data.Tables;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Methods;

/// <summary>
/// What a coalition method (kernel-shap, permutation-shap) switches on and off: an image's segments, hidden by a
/// baseline (<see cref="SegmentPlayers"/>), or a table's features, replaced by background rows (<see cref="FeaturePlayers"/>).
/// The method draws coalitions and solves; the players say what a coalition is worth and how values become maps.
/// </summary>
public interface IPlayers
{
    /// <summary>Whether the batch must carry its segments (<see cref="MethodBatch.Segments"/>).</summary>
    bool UsesSegments { get; }

    /// <summary>The data sample the background rows come from (chosen in the selection pass); null when none is needed.</summary>
    Subset? Background { get; }

    /// <summary>How the background sample is summarised (a k-means summary), or null for its rows as they are.</summary>
    KMeansBackground? Summary => null;

    /// <summary>The batch's game: its players and the value of any coalition of them.</summary>
    ICoalitionGame Game(MethodBatch batch);
}

/// <summary>One batch's coalition game: K players per sample (padding beyond a sample's own count), and v(z).</summary>
public interface ICoalitionGame
{
    /// <summary>Each sample's number of players.</summary>
    int[] Counts { get; }

    /// <summary>[n, K] float64: 1 where player j is padding (j ≥ the sample's count).</summary>
    Tensor Absent();

    /// <summary>[n] int64: each sample's count, on the model's device.</summary>
    Tensor CountTensor();

    /// <summary>v(z) [n, m] float64: the target output with the players of each coalition z [n, m, K] (0/1) present.</summary>
    Tensor Values(CoalitionMasks coalitions, int maxRows, bool probability);

    /// <summary>Per-player values [n, K] as the method's maps.</summary>
    Tensor Paint(Tensor values);
}

/// <summary>An image's segments, those outside a coalition replaced by <paramref name="Hide"/> (<see cref="SegmentMasker"/>).</summary>
public sealed record SegmentPlayers(Baseline Hide) : IPlayers
{
    public bool UsesSegments => true;

    public Subset? Background => null;

    public ICoalitionGame Game(MethodBatch batch)
    {
        var segments = batch.Segments ?? throw new InvalidOperationException("a segment game needs the batch's segments");
        return new SegmentGame(batch, segments, new SegmentMasker(batch.Input, segments, Hide));
    }

    private sealed class SegmentGame(MethodBatch batch, BatchSegments segments, SegmentMasker masker) : ICoalitionGame
    {
        public int[] Counts => segments.Counts;

        public Tensor Absent() => segments.Absent();

        public Tensor CountTensor() => segments.CountTensor();

        public Tensor Values(CoalitionMasks coalitions, int maxRows, bool probability) =>
            masker.Outputs(batch, coalitions.ToTensor(batch.Input.device), maxRows, probability).to(ScalarType.Float64);

        public Tensor Paint(Tensor values) => segments.Paint(values);
    }
}

/// <summary>
/// A table's features (a one-hot group is one player), interventional: v(S) = mean over the background rows b of
/// f(x_S, b_S̄), each absent feature's elements taken from b (SHAP's independent masker), weighted by the rows' weights
/// when a k-means summary (<paramref name="Summary"/>) stands for the sample. Maps are one value per feature, [n, features].
/// </summary>
public sealed record FeaturePlayers(Subset Background, KMeansBackground? Summary = null) : IPlayers
{
    /// <summary>
    /// The players of a table method's <c>background</c> option: <c>{"samples": N, "seed": s}</c> (rows at random),
    /// <c>{"kmeans": K, ...}</c> (their k-means summary, <see cref="KMeansBackground.Read"/>) or <c>{"perLabel": N, "seed": s}</c>
    /// (N rows of each label, equally weighted: each label counts the same in E[f], whatever its share of the data).
    /// </summary>
    public static FeaturePlayers Read(Options.OptionsReader options)
    {
        if (options.Raw("background") is { ValueKind: System.Text.Json.JsonValueKind.Object } o && o.TryGetProperty("perLabel", out _))
        {
            if (o.TryGetProperty("kmeans", out _)) throw new ExplainException($"{options.Prefix}background: give either kmeans or perLabel, not both");
            var reader = new Options.OptionsReader(o, options.Prefix + "background.");
            var sample = Subset.PerLabel(reader.Integer("perLabel", null, 1, 100_000), reader.Integer("seed", 0, 0, int.MaxValue));
            reader.RejectUnread();
            return new FeaturePlayers(sample);
        }
        var (rows, summary) = KMeansBackground.Read(options, "background");
        return new FeaturePlayers(rows, summary);
    }

    public bool UsesSegments => false;

    Subset? IPlayers.Background => Background;

    public ICoalitionGame Game(MethodBatch batch) => new FeatureGame(batch);

    private sealed class FeatureGame : ICoalitionGame
    {
        private readonly MethodBatch _batch;
        private readonly FeatureGroups _features;
        private readonly float[] _input;      // [n, W] on the host
        private readonly float[] _background; // [B, W] on the host
        private readonly Tensor? _weights;     // [B] summing to 1, or null: the rows' mean

        public FeatureGame(MethodBatch batch)
        {
            _batch = batch;
            _features = batch.Features ?? throw new ExplainException("kernel-shap and permutation-shap over features need a table (data.table)");
            var background = batch.Background ?? throw new InvalidOperationException("a feature game needs the background rows");
            _background = background.cpu().data<float>().ToArray();
            _input = batch.Input.cpu().data<float>().ToArray();
            _weights = batch.BackgroundWeights;
            Counts = [.. Enumerable.Repeat(_features.Names.Length, (int)batch.Input.shape[0])];
        }

        public int[] Counts { get; }

        public Tensor Absent() => zeros([Counts.Length, Counts[0]], ScalarType.Float64, _batch.Input.device);

        public Tensor CountTensor()
        {
            using var count = Counts[0].ToScalar(); // held through the call (Scalars)
            return full([Counts.Length], count, ScalarType.Int64, _batch.Input.device);
        }

        /// <summary>
        /// Sample by sample, its m coalitions × B background rows in chunks of <paramref name="maxRows"/>, each chunk written on
        /// the host into one reused buffer (<see cref="CoalitionRows"/>: each element exactly x's or b's, selected lanes at a
        /// time, in one pass while the chunk is in cache), then forwarded: the rows never exist all at once. The chunks are
        /// those of a plain forward over the rows. A row that is the same vector as an earlier one of the sample
        /// (<see cref="DistinctRows"/>) is not forwarded again: it takes that row's output. What is forwarded depends only on
        /// the sample, its coalitions, the background and the budget, so a sample's values do not depend on its batch.
        /// </summary>
        public Tensor Values(CoalitionMasks coalitions, int maxRows, bool probability)
        {
            var (n, m) = (coalitions.Samples, coalitions.Rows);
            var (rows, width) = (_background.Length / _features.Width, _features.Width);
            var total = (long)m * rows;
            using var buffer = empty([Math.Min(maxRows, total), width], ScalarType.Float32);
            var values = new Tensor[n];
            var distinct = new DistinctRows(_features, _background);
            for (var i = 0; i < n; i++)
            {
                var x = _input.AsMemory(i * width, width);
                // The rows that repeat another go to the model once.
                var repeats = distinct.Find(coalitions.Of(i).Span, m, x.Span);
                var built = repeats ? null : new CoalitionRows(_features, coalitions.Of(i), x, _background);
                var forwarded = repeats ? distinct.Count : total;
                var outputs = TargetGradients.Outputs(_batch.Model, forwarded, (start, size) =>
                {
                    var into = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(buffer.bytes);
                    if (built is null) distinct.Write(start, (int)size, into);
                    else built.Write(start, (int)size, into);
                    return buffer.narrow(0, 0, size);
                }, _batch.Targets.narrow(0, i, 1).expand(forwarded), maxRows, probability);
                if (repeats) outputs = outputs.index_select(0, tensor(distinct.Of, [total]));
                var perRow = outputs.to(ScalarType.Float64).view(m, rows);
                values[i] = _weights is null ? perRow.mean([1]) : perRow.matmul(_weights);
            }
            return stack(values, 0);
        }

        public Tensor Paint(Tensor values) => values.to(ScalarType.Float32);
    }
}
