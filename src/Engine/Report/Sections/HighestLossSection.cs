using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>The samples with the highest loss, each drawn with every pixel method's map over it (when the inputs can be read).</summary>
public sealed class HighestLossSection : IReportSection
{
    public async Task<IReadOnlyList<FigureGroup>> FiguresAsync(ReportContext report, CancellationToken ct)
    {
        if (report.Summary.ErrorAnalysis is not { } errors) return [];
        var classes = report.Summary.Classes;
        return [new("Highest-loss samples", await report.SamplesAsync("top-loss", errors.HighestLoss.Select(e =>
            ($"#{e.Index}: label {classes[e.Label]}, predicted {classes[e.Prediction]} ({e.Confidence:P0}), loss {e.Loss:F2}", e.Index, e.Shard, e.Row)), ct))];
    }
}
