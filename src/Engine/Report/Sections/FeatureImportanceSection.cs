using System.Globalization;
using System.Text;
using ExplainCluster.Engine.Tabular;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>A table job's feature importance: per method, each feature's mean |attribution| with its interval and its mean signed attribution, most important first.</summary>
public sealed class FeatureImportanceSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        if (report.Summary.FeatureImportance is not { } importance) return null;
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder(string.Create(inv,
            $"<p>Each feature's attribution is the sum over the elements it takes in the model's vector (a one-hot feature's levels), so it reads per column of the table. Mean |attribution| over the samples each method explained, with its {EstimateText.Level(importance.Confidence)} interval (normal, from the samples' spread); the mean signed attribution says which way the feature pushes the explained class on average.</p>"));
        foreach (var method in importance.Methods)
        {
            html.Append(string.Create(inv, $"<p><b>{E(method.Method)}</b>, {method.Samples:N0} samples</p>"))
                .Append("<table><tr><th>feature</th><th>mean |attribution|</th><th>mean attribution</th></tr>");
            foreach (var f in method.Features.OrderByDescending(f => f.MeanAbs.Value ?? 0))
                html.Append(string.Create(inv, $"<tr><td class=\"l\">{E(f.Feature)}</td><td>{EstimateText.Number(f.MeanAbs, "G4")}</td><td>{f.MeanAttribution:G4}</td></tr>"));
            html.Append("</table>");
        }
        return new ReportText("Feature importance", html.ToString());
    }
}
