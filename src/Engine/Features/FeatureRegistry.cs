using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Features;

/// <summary>
/// Every feature with statistics of its own, in the order of their sections in summary.json. Adding a feature is its
/// own folder and one line here.
/// </summary>
public static class FeatureRegistry
{
    public static readonly IReadOnlyList<IFeature> All =
    [
        ErrorsFeature.Instance,
        MethodsFeature.Instance,
        InputsFeature.Instance,
        StrataFeature.Instance,
        FaithfulnessFeature.Instance,
        Trust.TrustFeature.Instance,
        Concepts.TcavFeature.Instance,
        SanityFeature.Instance,
        ParamGradsFeature.Instance,
        WeightsFeature.Instance,
        ActivationsFeature.Instance,
        PruningFeature.Instance,
        MaximisationFeature.Instance,
        EmbeddingFeature.Instance,
        Tabular.FeatureImportanceFeature.Instance,
        Tabular.SpLimeFeature.Instance,
        Dependence.DependenceFeature.Instance,
        Cohorts.CohortsFeature.Instance,
        Cohorts.CohortMapsFeature.Instance,
        ErrorTree.ErrorTreeFeature.Instance,
        Verdicts.VerdictsFeature.Instance,
        Data.Images.BadSamplesFeature.Instance,
    ];

    private static readonly Dictionary<string, IFeature> ByName = All.ToDictionary(f => f.Name, StringComparer.Ordinal);

    /// <summary>The feature whose partials are keyed <paramref name="name"/>; null for a name no feature has.</summary>
    public static IFeature? Find(string name) => ByName.GetValueOrDefault(name);
}
