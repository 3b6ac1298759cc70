using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// The selection pass of stratified subsets (<c>subset: {"perClass": K, "seed": s}</c>). A stratum is a target
/// class and whether the model got the sample right (errors are always represented; without labels, the target
/// class alone). Each shard runs the model forward once and offers, per stratum, its K samples with the smallest
/// keys (<see cref="SampleSeeds.For"/> of the seed and the dataset index, ties by index); the job keeps the K
/// smallest of all offers, which are the K smallest of the stratum however the dataset was sharded. A proportional
/// subset (<see cref="Subset.Proportional"/>) has one stratum, the whole dataset; one by label (<see cref="Subset.ByLabel"/>),
/// a stratum per label.
/// </summary>
public static class SampleSelection
{
    /// <summary>
    /// The job's stratified samples (<see cref="JobPlan.Samples"/>), in the order of <see cref="SelectionPartial.Subsets"/>
    /// and of the job's choices.
    /// </summary>
    public static Subset[] Subsets(JobSpec job) => JobPlan.Of(job).SampleSubsets;

    public static int Stratum(long target, bool correct) => checked((int)target * 2 + (correct ? 1 : 0));

    /// <summary>The shard's candidates: one forward pass in batches, on the caller's (model host) thread.</summary>
    public static StratumCandidate[][] Compute(ExplainModel model, JobSpec job, ShardData data, CancellationToken ct = default, BatchClock? clock = null)
    {
        var subsets = Subsets(job);
        var n = data.Count;
        var strata = new int[n];
        var byLabel = new int[n]; // each row's label, for strata by label alone
        var preprocess = Preprocessor.Create(job.Data.Preprocess, data.SampleShape);
        using (var shardRaw = tensor(data.Raw, [n, .. data.SampleShape.Select(d => (long)d)]))
        {
            ShardExplainer.CheckFinite(shardRaw, data.IndexOf);
            using var _ = no_grad();
            for (var start = 0; start < n; start += job.BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                clock?.Tick();
                var count = Math.Min(job.BatchSize, n - start);
                using var scope = NewDisposeScope();
                var input = model.PrepareInput(preprocess.Apply(shardRaw.narrow(0, start, count)));
                var logits = model.Forward(input).cpu();
                var indices = Enumerable.Range(start, count).Select(data.IndexOf).ToArray();
                model.CheckFinite(logits, indices);
                var predicted = logits.argmax(1).data<long>().ToArray();
                var labels = data.Labels?.AsSpan(start, count).ToArray();
                if (labels is not null) ShardExplainer.CheckLabels(labels, (int)logits.shape[1], indices);
                for (var i = 0; i < count; i++)
                {
                    var target = job.Target == TargetMode.Label && labels is not null ? labels[i] : predicted[i];
                    strata[start + i] = Stratum(target, labels is not null && labels[i] == predicted[i]);
                    byLabel[start + i] = labels is null ? 0 : checked((int)labels[i]);
                }
            }
        }
        return [.. subsets.Select(s => Smallest(
            Enumerable.Range(0, n).Select(i => new StratumCandidate(s.Proportional ? 0 : s.ByLabel ? byLabel[i] : strata[i], SampleSeeds.For(s.Seed, data.IndexOf(i)), data.IndexOf(i))), s.PerClass))];
    }

    /// <summary>Per stratum, the <paramref name="perClass"/> candidates with the smallest keys (ties by index), by stratum then key.</summary>
    public static StratumCandidate[] Smallest(IEnumerable<StratumCandidate> candidates, int perClass) =>
        [.. candidates.GroupBy(c => c.Stratum).OrderBy(g => g.Key)
            .SelectMany(g => g.OrderBy(c => c.Key).ThenBy(c => c.Index).Take(perClass))];

    /// <summary>Folds a shard's candidates into those kept so far (null: none yet); the result does not depend on the order of folding.</summary>
    public static StratumCandidate[][] Merge(StratumCandidate[][]? kept, StratumCandidate[][] shard, IReadOnlyList<Subset> subsets) =>
        kept is null ? shard : [.. subsets.Select((s, i) => Smallest(kept[i].Concat(shard[i]), s.PerClass))];

    /// <summary>Each subset's chosen dataset indices, ascending; a capped subset (<see cref="Subset.Total"/>) takes its strata in rounds.</summary>
    public static long[][] Chosen(StratumCandidate[][] kept, IReadOnlyList<Subset> subsets) =>
        [.. kept.Select((k, i) => (subsets[i].Total > 0 ? InRounds(k, subsets[i].Total) : k).Select(c => c.Index).Order().ToArray())];

    /// <summary>
    /// Round r takes each stratum's r-th smallest key (strata in order) until <paramref name="total"/> are taken, so
    /// every stratum is represented before any has two, and a small one gives all it has.
    /// </summary>
    private static IEnumerable<StratumCandidate> InRounds(StratumCandidate[] kept, int total) =>
        kept.GroupBy(c => c.Stratum)
            .SelectMany(g => g.OrderBy(c => c.Key).ThenBy(c => c.Index).Select((c, rank) => (c, rank)))
            .OrderBy(x => x.rank).ThenBy(x => x.c.Stratum)
            .Take(total).Select(x => x.c);

    /// <summary>The chosen indices in [start, start + count), per subset; all of a <see cref="Subset.Whole"/> subset's.</summary>
    public static long[][] Within(long[][] chosen, IReadOnlyList<Subset> subsets, long start, long count) =>
        [.. chosen.Select((c, s) => subsets[s].Whole ? c : c.Where(i => i >= start && i < start + count).ToArray())];
}
