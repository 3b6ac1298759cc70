using System.Runtime.CompilerServices;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Jobs;

/// <summary>A method the job runs: its spec, the method made from its options, and the samples it explains.</summary>
public sealed record PlannedMethod(MethodSpec Spec, IAttributionMethod Method, Subset Subset)
{
    public string Name => Spec.Name;
}

/// <summary>
/// A stratified sample the selection pass chooses, by id: who uses it (methods' <c>subset</c>, the sanity check, the
/// pruning and embedding views) and its parameters. Users with the same parameters share one sample.
/// </summary>
public sealed record StratifiedSample(string Id, Subset Subset, string[] UsedBy);

/// <summary>
/// A job's options resolved once into typed, checked objects (the methods with their subsets, the stratified samples,
/// the views, the segmentation): nothing downstream reads option JSON. Made from the <see cref="JobSpec"/> a message
/// carries (<see cref="Of"/>, once per spec instance), so every silo resolves the same plan.
/// </summary>
public sealed class JobPlan
{
    private static readonly ConditionalWeakTable<JobSpec, JobPlan> Plans = new();

    private readonly Dictionary<string, int> _sampleIndex;

    private JobPlan(JobSpec job)
    {
        Job = job;
        Methods = [.. job.Methods.Select(m =>
        {
            var (method, subset) = MethodRegistry.CreateWithSubset(m, table: job.Data.Table is not null);
            return new PlannedMethod(m, method, subset);
        })];
        Pruning = ViewsOptions.Find(job, ViewsOptions.Pruning) is { } pruning ? ViewsOptions.ReadPruning(pruning, job.Methods) : null;
        Embedding = ViewsOptions.Find(job, ViewsOptions.Embedding) is { } embedding ? ViewsOptions.ReadEmbedding(embedding) : null;
        Maximisation = ViewsOptions.Find(job, ViewsOptions.Maximisation) is { } maximisation ? MaximisationOptions.Read(maximisation.Options) : null;
        Activations = ViewsOptions.Find(job, ViewsOptions.Activations) is { } activations ? new ActivationsPlan(ViewsOptions.ReadActivations(activations)) : null;
        Weights = ViewsOptions.Find(job, ViewsOptions.Weights) is not null;
        Segments = Methods.Any(m => m.Method.UsesSegments) ? job.Segments ?? SegmentsSpec.Default : null;
        Features = Data.Tables.FeatureGroups.Of(job.Data.Table);
        Knn = job.Data.HasLabels && Embedding is { KnnSamples: > 0 } knn ? knn : null;

        // The stratified samples in a fixed order (methods', then the trust metrics', the sanity check's, pruning's, the label vote's): the
        // selection pass's candidates and the job's choices travel in this order, and are addressed here by id.
        var users = new List<(string User, Subset Subset)>();
        users.AddRange(Methods.Where(m => m.Subset.IsStratified).Select(m => ($"methods.{m.Name}", m.Subset)));
        users.AddRange(Methods.Where(m => m.Method.Background is not null).Select(m => ($"methods.{m.Name}.background", m.Method.Background!)));
        TrustSubset = job.Trust is { } trust ? Trust.TrustOptions.SubsetOf(trust) : null;
        if (TrustSubset is { IsStratified: true } trustSubset) users.Add(("trust", trustSubset));
        if (job.Sanity is { } sanity) users.Add(("sanity", InRounds(sanity.Seed, sanity.Samples)));
        if (Pruning is { } p) users.Add(("views.pruning", InProportion(p.Seed, p.Samples)));
        if (Knn is { } k) users.Add(("views.embedding", InRounds(k.Seed, k.KnnSamples)));
        Samples = [.. users.GroupBy(u => IdOf(u.Subset)).Select(g => new StratifiedSample(g.Key, g.First().Subset, [.. g.Select(u => u.User)]))];
        _sampleIndex = Samples.Select((s, i) => (s.Id, i)).ToDictionary(x => x.Id, x => x.i, StringComparer.Ordinal);
        SampleSubsets = [.. Samples.Select(s => s.Subset)];
    }

    /// <summary>A table's features: the model's vector grouped back into its columns (one-hot groups summed); null for arrays and images.</summary>
    public Data.Tables.FeatureGroups? Features { get; }

    /// <summary>The plan of <paramref name="job"/>, resolved once per spec (a bad option is a one-line <see cref="ExplainException"/>).</summary>
    public static JobPlan Of(JobSpec job) => Plans.GetValue(job, j => new JobPlan(j));

    public JobSpec Job { get; }

    public PlannedMethod[] Methods { get; }

    /// <summary>The stratified samples the selection pass chooses (empty: the job has no selection pass).</summary>
    public StratifiedSample[] Samples { get; }

    /// <summary>Each of <see cref="Samples"/>' subset, in their order (the selection pass's candidates and the job's choices).</summary>
    public Subset[] SampleSubsets { get; }

    public PruningOptions? Pruning { get; }

    public EmbeddingOptions? Embedding { get; }

    /// <summary>The embedding's label vote (labels given, <c>knnSamples</c> &gt; 0); null without one.</summary>
    public EmbeddingOptions? Knn { get; }

    public MaximisationOptions? Maximisation { get; }

    public ActivationsPlan? Activations { get; }

    public bool Weights { get; }

    /// <summary>The segmentation, when one of the methods uses segments (lime's quickshift when the job names none).</summary>
    public SegmentsSpec? Segments { get; }

    /// <summary>The layer the job's methods split at (Grad-CAM's), if any.</summary>
    public string? SplitLayer => Methods.Select(m => m.Spec.Layer).OfType<string>().FirstOrDefault();

    /// <summary>The sample a method explains, with the job's choice within this shard when it is stratified.</summary>
    public Subset SubsetOf(PlannedMethod method, long[][]? chosen) =>
        method.Subset.IsStratified ? method.Subset with { Chosen = Chosen(chosen, method.Subset).ToHashSet() } : method.Subset;

    /// <summary>The dataset indices of <paramref name="method"/>'s background rows (all of them, in every shard), ascending.</summary>
    public long[] BackgroundOf(PlannedMethod method, long[][]? chosen) =>
        Chosen(chosen, method.Method.Background ?? throw new ArgumentException($"{method.Name} has no background", nameof(method)));

    /// <summary>Every background row any method of the job reads, ascending.</summary>
    public long[] BackgroundRows(long[][]? chosen) =>
        chosen is null ? [] : [.. Methods.Where(m => m.Method.Background is not null).SelectMany(m => BackgroundOf(m, chosen)).Distinct().Order()];

    /// <summary>The samples the trust metrics that rerun a method evaluate (<c>trust.subset</c>); null without <c>trust</c>.</summary>
    public Subset? TrustSubset { get; }

    /// <summary>The trust subset with the job's choice within this shard when it is stratified.</summary>
    public Subset? TrustSubsetOf(long[][]? chosen) =>
        TrustSubset is { IsStratified: true } s ? s with { Chosen = Chosen(chosen, s).ToHashSet() } : TrustSubset;

    public StratifiedSample? SanitySample => Job.Sanity is { } s ? Sample(InRounds(s.Seed, s.Samples)) : null;

    public StratifiedSample? PruningSample => Pruning is { } p ? Sample(InProportion(p.Seed, p.Samples)) : null;

    public StratifiedSample? KnnSample => Knn is { } k ? Sample(InRounds(k.Seed, k.KnnSamples)) : null;

    /// <summary>The chosen dataset indices of <paramref name="sample"/> in <paramref name="chosen"/> (the job's choices, in <see cref="Samples"/>' order).</summary>
    public long[] Chosen(long[][]? chosen, StratifiedSample sample) => Chosen(chosen, sample.Subset);

    private long[] Chosen(long[][]? chosen, Subset subset)
    {
        if (chosen is null || chosen.Length != Samples.Length)
            throw new ArgumentException($"{chosen?.Length ?? 0} chosen sets for {Samples.Length} stratified samples", nameof(chosen));
        return chosen[_sampleIndex[IdOf(subset)]];
    }

    private StratifiedSample Sample(Subset subset) => Samples[_sampleIndex[IdOf(subset)]];

    /// <summary>A capped stratified sample (the sanity check's, pruning's, the vote's): <paramref name="samples"/> in all, spread over the strata in rounds.</summary>
    private static Subset InRounds(long seed, int samples) => new(1, seed, samples, samples);

    /// <summary>
    /// A sample in the dataset's proportions (pruning's): <paramref name="samples"/> at random, not by stratum, so that its
    /// accuracy estimates the dataset's (a stratified one is half errors).
    /// </summary>
    private static Subset InProportion(long seed, int samples) => new(1, seed, samples, samples, Proportional: true);

    private static string IdOf(Subset s) => $"perClass={s.PerClass},seed={s.Seed},total={s.Total},proportional={s.Proportional},whole={s.Whole},byLabel={s.ByLabel}";
}

/// <summary>The <c>activations</c> view: the layers it takes (null: every top-level child).</summary>
public sealed record ActivationsPlan(string[]? Layers);
