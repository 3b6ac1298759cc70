using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// Every seed a job's random choices start from, by where the job file sets it ("methods.lime.seed",
/// "methods.lime.subset.seed", "sanity.seed", …), defaults included: what the manifest records so that a reader can
/// run the same job again and get the same samples, noise and coalitions. Only seeds in use are listed.
/// </summary>
public static class JobSeeds
{
    public static Dictionary<string, long> Of(JobSpec job)
    {
        var plan = JobPlan.Of(job);
        var seeds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var method in plan.Methods)
        {
            if (method.Method.Seed is { } seed) seeds[$"methods.{method.Name}.seed"] = seed;
            if (!method.Subset.IsAll) seeds[$"methods.{method.Name}.subset.seed"] = method.Subset.Seed;
        }
        if (job.Faithfulness is { } faithfulness) seeds["faithfulness.seed"] = faithfulness.Seed;
        if (job.Trust is { } trust)
        {
            seeds["trust.seed"] = trust.Seed;
            if (!plan.TrustSubset!.IsAll) seeds["trust.subset.seed"] = trust.SubsetSeed;
        }
        if (job.Sanity is { } sanity) seeds["sanity.seed"] = sanity.Seed;
        if (job.Concepts is { } concepts) seeds["concepts.seed"] = concepts.Seed;
        if (plan.Pruning is { } pruning) seeds["views.pruning.seed"] = pruning.Seed;
        if (plan.Knn is { } knn) seeds["views.embedding.seed"] = knn.Seed;
        if (plan.Maximisation is { } maximisation) seeds["views.maximisation.seed"] = maximisation.Seed;
        if (job.Dependence is { } dependence)
        {
            seeds["dependence.seed"] = dependence.Seed;
            if (dependence.Repeats > 0) seeds["dependence.permutation.seed"] = dependence.PermutationSeed;
        }
        if (job.Maps is { Store: MapStore.Subset } maps) seeds["maps.subset.seed"] = maps.SubsetSeed;
        return seeds;
    }
}
