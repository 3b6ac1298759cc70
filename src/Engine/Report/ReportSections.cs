using ExplainCluster.Engine.Report.Sections;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// The report's order: the header under the title, then one chapter per topic in the order of a model card (Mitchell et
/// al., 2019) and of the EU AI Act's technical documentation: what was found, what was explained on what, how well the
/// model does, what the explanations show, whether they can be trusted, the model as a whole, what the report cannot
/// say, and how to get from it to the rows. Each section stands in one chapter only, its text followed by its figures.
/// A new section is a class in Sections/ and a line in one chapter.
/// </summary>
public static class ReportSections
{
    /// <summary>Above the contents: the job's name and id.</summary>
    public static IReportSection Header { get; } = new HeaderSection();

    public static IReadOnlyList<ReportChapter> Chapters { get; } =
    [
        new("Summary", [new SummarySection()]),
        new("Changes since the previous model", [new ChangesSection()]),
        new("Scope and provenance", [new ProvenanceSection(), new BadSamplesSection()]),
        new("Performance", [new ErrorAnalysisSection(), new HighestLossSection()]),
        new("Cohorts", [new CohortsSection(), new CohortMapsSection(), new ErrorTreeSection()]),
        new("Explanations", [new MethodsSection(new ClassMeansSection()), new FeatureImportanceSection(), new ConceptsSection()]),
        new("Trust", [new VerdictsSection(), new FaithfulnessSection(), new TrustSection(), new SanitySection()]),
        new("Global views", [new WeightsSection(), new ActivationsSection(), new PruningSection(), new MaximisationSection(), new EmbeddingSection(), new ParamGradsSection(), new DependenceSection()]),
        new("Limitations", [new LimitationsSection()]),
        new("Appendix: the output files", [new AppendixSection()]),
    ];
}
