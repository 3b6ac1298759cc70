using ExplainCluster.Contracts;
using ExplainCluster.Engine.Features;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// Merges shard partials into the global summary by folding each feature's partial (<see cref="FeatureRegistry"/>)
/// into its running sums in shard order: a partial that arrives before its predecessors waits until they are folded.
/// The result is the same bit for bit whichever silos ran the shards and in whatever order they finished, and only
/// partials that arrived out of order are held, so a job's memory does not grow with its shard count.
/// </summary>
public sealed class SummaryBuilder
{
    private readonly Dictionary<int, ShardPartial> _waiting = [];
    private readonly Dictionary<IFeature, IFeatureSums> _sums = [];
    private int _next;
    private long _samples;
    private long[] _predicted = [];

    /// <summary>Job options the summary is built with (the embedding's components and k).</summary>
    public SummarySettings Settings { get; } = new();

    /// <summary>The running sums of the feature <typeparamref name="T"/> is made of, if any of its partials was folded.</summary>
    public T? Sums<T>() where T : class, IFeatureSums => _sums.Values.OfType<T>().FirstOrDefault();

    /// <summary>Pruning's first pass over the whole sample, once every shard is folded; null without pruning.</summary>
    public ImportanceSums? PruningImportance => Sums<PruningFeature.Sums>()?.Importance;

    /// <summary>The Grad-CAM layer's α per channel summed over every sample; null unless maximisation asked for channels.</summary>
    public double[]? ChannelWeights => Sums<MaximisationFeature.Sums>()?.ChannelWeights;

    /// <summary>The embedding's PCA with <paramref name="dims"/> components, once every shard is folded; null without the view.</summary>
    public EmbeddingPca? Embedding(int dims) => Sums<EmbeddingFeature.Sums>()?.Pca(dims);

    /// <summary>The embedding's label vote over its subset, by dataset index (k: <see cref="EmbeddingNeighbours"/>); null without one.</summary>
    public (long[] Index, long[] Labels, double[] Agreement, long[] Majority)? LabelVote() =>
        Sums<EmbeddingFeature.Sums>()?.LabelVote(Settings.EmbeddingNeighbours);

    /// <summary>The embedding view's components (set by the job from its options before building).</summary>
    public int EmbeddingDims
    {
        get => Settings.EmbeddingDims;
        set => Settings.EmbeddingDims = value;
    }

    /// <summary>The embedding's label vote's k (set by the job from its options before building).</summary>
    public int EmbeddingNeighbours
    {
        get => Settings.EmbeddingNeighbours;
        set => Settings.EmbeddingNeighbours = value;
    }

    /// <summary>The model's classes (known once a partial is folded).</summary>
    public int Classes => _predicted.Length;

    /// <summary>Partials folded so far: shards 0 .. Folded−1.</summary>
    public int Folded => _next;

    /// <summary>Partials held because an earlier shard has not arrived yet.</summary>
    public int Waiting => _waiting.Count;

    public static SummaryOutput Build(IEnumerable<ShardPartial> partials, string[]? classNames)
    {
        var builder = new SummaryBuilder();
        foreach (var p in partials) builder.Add(p);
        return builder.Build(classNames);
    }

    public void Add(ShardPartial partial)
    {
        if (partial.ShardIndex < _next || !_waiting.TryAdd(partial.ShardIndex, partial))
            throw new ArgumentException($"shard {partial.ShardIndex} was already merged", nameof(partial));
        while (_waiting.Remove(_next, out var next))
        {
            Fold(next);
            _next++;
        }
    }

    /// <summary>A post attempt's results, for the features that take them (pruning's curve sums, maximisation images).</summary>
    public void AddPost(PostPartial post)
    {
        foreach (var feature in FeatureRegistry.All)
            if (SumsOf(feature) is IPostFeatureSums sums) sums.AddPost(post);
    }

    public SummaryOutput Build(string[]? classNames)
    {
        if (_waiting.Count > 0) throw new InvalidOperationException($"shard {_next} is missing");
        if (_next == 0) throw new InvalidOperationException("no partials to merge");
        var names = classNames ?? [.. Enumerable.Range(0, Classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))];
        var arrays = new List<SummaryArray>();
        var draft = new SummaryDraft(names, arrays, type => _sums.Values.FirstOrDefault(type.IsInstanceOfType), Settings);
        var sections = new Dictionary<string, object?>(StringComparer.Ordinal);
        var nested = new Dictionary<string, Dictionary<string, object?>>(StringComparer.Ordinal);
        foreach (var feature in FeatureRegistry.All)
        {
            var section = _sums.TryGetValue(feature, out var sums) ? sums.Summarise(draft) : null;
            // A dotted section nests under its parent (views.weights): the parent is null unless one of its children has something.
            if (feature.Section.Split('.', 2) is [var parent, var child])
            {
                if (!nested.TryGetValue(parent, out var children))
                {
                    nested[parent] = children = new Dictionary<string, object?>(StringComparer.Ordinal);
                    sections[parent] = null;
                }
                children[child] = section;
                if (section is not null) sections[parent] = children;
            }
            else sections[feature.Section] = section;
        }
        return new SummaryOutput(new Summary(_samples, names, (long[])_predicted.Clone()) { Sections = sections }, [.. arrays]);
    }

    private void Fold(ShardPartial p)
    {
        _samples += p.Count;
        if (_next == 0) _predicted = new long[p.PredictedCounts.Length];
        Totals.Add(_predicted, p.PredictedCounts);
        foreach (var part in p.Features)
        {
            var feature = FeatureRegistry.Find(part.Feature) ?? throw new ExplainException($"shard {p.ShardIndex}: its partial has statistics of an unknown feature, {part.Feature}");
            SumsOf(feature, create: true)!.Fold(part.Data, $"shard {p.ShardIndex}");
        }
    }

    private IFeatureSums? SumsOf(IFeature feature, bool create = false)
    {
        if (_sums.TryGetValue(feature, out var sums)) return sums;
        sums = feature.NewSums(Classes);
        // Without a partial of its own, only a feature that takes post results gets sums (maximisation's images).
        return create || sums is IPostFeatureSums ? _sums[feature] = sums : null;
    }
}
