using ExplainCluster.Engine.Report.Sections;

namespace ExplainCluster.Engine.Report;

/// <summary>
/// Every section of the report, in its order: first each section's text and tables, then each section's figures.
/// A new section is a class in Sections/ and a line in one list or both.
/// </summary>
public static class ReportSections
{
    private static readonly IReportSection Header = new HeaderSection();
    private static readonly IReportSection ErrorAnalysis = new ErrorAnalysisSection();
    private static readonly IReportSection Methods = new MethodsSection();
    private static readonly IReportSection ClassMeans = new ClassMeansSection();
    private static readonly IReportSection HighestLoss = new HighestLossSection();
    private static readonly IReportSection Faithfulness = new FaithfulnessSection();
    private static readonly IReportSection Sanity = new SanitySection();
    private static readonly IReportSection Verdicts = new VerdictsSection();
    private static readonly IReportSection ParamGrads = new ParamGradsSection();
    private static readonly IReportSection Embedding = new EmbeddingSection();
    private static readonly IReportSection Pruning = new PruningSection();
    private static readonly IReportSection Maximisation = new MaximisationSection();
    private static readonly IReportSection Weights = new WeightsSection();
    private static readonly IReportSection Activations = new ActivationsSection();

    /// <summary>The first half of the report: the sections' text and tables, in this order.</summary>
    public static IReadOnlyList<IReportSection> Text { get; } =
        [Header, ErrorAnalysis, Methods, Faithfulness, Sanity, Verdicts, ParamGrads, Embedding, Pruning, Maximisation, Weights, Activations];

    /// <summary>The second half: the sections' figures, in this order.</summary>
    public static IReadOnlyList<IReportSection> Figures { get; } =
        [ErrorAnalysis, ClassMeans, HighestLoss, ParamGrads, Faithfulness, Sanity, Weights, Pruning, Maximisation, Embedding, Activations];
}
