using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Features;

/// <summary>
/// One feature's statistics over their whole life (captum's <c>Stat</c> with a merge): a shard's partial, computed
/// from the shard's results and encoded by the feature itself so that it travels opaquely in
/// <see cref="ShardPartial.Features"/>; running sums that fold partials in shard order (so a summary is the same bit
/// for bit however the job was sharded); and the feature's section of summary.json with the arrays it names.
/// Registered once in <see cref="FeatureRegistry"/>; nothing else in the engine names a feature.
/// </summary>
public interface IFeature
{
    /// <summary>Its partials' key in a shard partial.</summary>
    string Name { get; }

    /// <summary>Its section in summary.json: a top-level key, or <c>views.NAME</c> under <c>views</c>.</summary>
    string Section { get; }

    /// <summary>The shard's partial, encoded; null when the feature has nothing from this shard.</summary>
    byte[]? Partial(ShardOutcome shard);

    /// <summary>Empty running sums for a job whose model has <paramref name="classes"/> classes.</summary>
    IFeatureSums NewSums(int classes);
}

/// <summary>A feature's running sums: partials are folded in shard order, then summarised once.</summary>
public interface IFeatureSums
{
    /// <param name="partial">What <see cref="IFeature.Partial"/> encoded for the next shard.</param>
    /// <param name="location">Named in the error when the bytes are not the feature's.</param>
    void Fold(byte[] partial, string location);

    /// <summary>The feature's section (null when it has nothing to say) and the arrays beside summary.json.</summary>
    object? Summarise(SummaryDraft draft);
}

/// <summary>Running sums that also take the results of the post pass (after every shard's explanations).</summary>
public interface IPostFeatureSums : IFeatureSums
{
    void AddPost(PostPartial post);
}

/// <summary>What a shard computed, as a feature's <see cref="IFeature.Partial"/> reads it.</summary>
/// <param name="Methods">Each method's class sums, made with the per-sample columns in one pass (<see cref="ShardStatistics"/>).</param>
/// <param name="Scale">The preprocessing's input scale (raw · scale).</param>
/// <param name="Scalars">Each method's per-sample columns as the samples table has them (mean |map| among them), in the order of <see cref="ShardResult.Methods"/>.</param>
public sealed record ShardOutcome(ShardSpec Shard, ShardResult Result, ShardData Data, double Scale, MethodPartial[] Methods, long[] TargetCounts,
    MethodScalars[]? Scalars = null);

/// <summary>
/// What a feature's summary sees: the class names, the arrays written beside summary.json, and the other features'
/// sums where one summary reads another's (param-grads reads its method's layer means).
/// </summary>
public sealed class SummaryDraft(string[] names, List<SummaryArray> arrays, Func<Type, IFeatureSums?> sums, SummarySettings settings)
{
    public string[] Names => names;

    public int Classes => names.Length;

    public List<SummaryArray> Arrays => arrays;

    public SummarySettings Settings => settings;

    /// <summary>Another feature's running sums, if it ran.</summary>
    public T? Sums<T>() where T : class, IFeatureSums => sums(typeof(T)) as T;
}

/// <summary>Job options a summary is built with (set by the job from its plan before building).</summary>
public sealed class SummarySettings
{
    /// <summary>The embedding view's components.</summary>
    public int EmbeddingDims { get; set; } = 2;

    /// <summary>The embedding's label vote's k.</summary>
    public int EmbeddingNeighbours { get; set; } = 10;

    /// <summary>The job's <c>verdicts</c>: the thresholds of the verdicts, and the confidence of every interval.</summary>
    public VerdictsSpec Verdicts { get; private set; } = new();

    /// <summary>The confidence of every interval and verdict (<c>verdicts.confidence</c>).</summary>
    public double Confidence => Verdicts.Confidence;

    /// <summary>Takes the job's <c>verdicts</c> (null: the defaults).</summary>
    public void Use(VerdictsSpec? verdicts) => Verdicts = verdicts ?? new VerdictsSpec();
}
