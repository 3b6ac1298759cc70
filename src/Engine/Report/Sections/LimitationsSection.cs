using System.Globalization;
using System.Text;
using System.Text.Json;
using ExplainCluster.Engine.Dependence;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Sanity;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Views;
using static ExplainCluster.Engine.Report.ReportHtml;

namespace ExplainCluster.Engine.Report.Sections;

/// <summary>
/// What the report cannot say, generated from the job: what was sampled and how (each method's subset, the checks' and
/// views' samples, what the report draws of each list), what the methods cannot show, and the caveats of its checks.
/// </summary>
public sealed class LimitationsSection : IReportSection
{
    public ReportText? Text(ReportContext report)
    {
        var (summary, manifest, inv) = (report.Summary, report.Manifest, CultureInfo.InvariantCulture);
        var sampled = new List<string>();
        foreach (var (name, m) in summary.Methods.Where(m => m.Value.Samples < summary.Samples))
            sampled.Add(string.Create(inv, $"{name} explained {m.Samples} of the {summary.Samples} samples ({Subset(JobFileValues.At(manifest.JobFile, "methods", name, "subset"))}); ")
                + "its class means are over those samples only and are not reweighted (a subset stratified by class × correct holds far more errors than the data does); "
                + "its faithfulness figures and verdict are over the same samples, reweighted to the dataset's class × correct proportions.");
        if (summary.Sanity is { } sanity)
            sampled.Add(string.Create(inv, $"The sanity check re-ran {string.Join(", ", sanity.Methods.Keys)} on {sanity.Samples} samples, spread over the (class × correct) strata; its figures are reweighted to the dataset's proportions of those strata."));
        if (summary.Views?.Pruning is { } pruning)
            sampled.Add(string.Create(inv, $"Pruning measured each channel on {pruning.Samples} samples drawn at random in the dataset's proportions, not on the whole dataset: its accuracies carry that sample's uncertainty."));
        if (summary.Views?.Embedding?.Knn is { } knn)
            sampled.Add(string.Create(inv, $"The label vote ran on {knn.Samples} stratified samples (its agreement is reweighted to the dataset's strata); the embedding's scatter plot draws the samples of the first shards only."));
        if (summary.Dependence is { } dependence)
            sampled.Add(string.Create(inv, $"The dependence views' grids are quantiles of {dependence.SampleRows} rows drawn at random (their levels within ±{dependence.QuantileError:P1} of the whole table's, {dependence.Confidence:P0}), their ICE curves are of {dependence.Features.FirstOrDefault()?.IceRows.Length ?? 0} of those rows, and permutation importance draws replacement values from them; the partial dependence and ALE curves average over every row."));
        if (summary.ErrorAnalysis is { } errors)
            sampled.Add(string.Create(inv, $"The report draws all {errors.HighestLoss.Length} of summary.json's highest-loss samples, and class-mean maps of at most {ReportContext.MaxClasses} classes per method (the files hold them all)."));

        var caveats = new List<string>
        {
            "Attribution maps say which inputs the model's output is sensitive to or credits for one sample; they do not show how features interact, "
            + "why the model learned what it did, or how it behaves on data unlike this dataset.",
            "Class means average the maps of a class: a pattern shared by a few samples, or two opposite ones, can vanish in the mean.",
            "Methods that agree are not thereby right: the trust chapter's checks, not agreement, say whether a method's maps follow the model.",
            "Every result holds for this model file and this dataset (their hashes are under scope and provenance) and nothing else.",
        };
        if (summary.Faithfulness is { } faithfulness)
            caveats.Add(string.Create(inv, $"Faithfulness replaces pixels by a constant baseline in {faithfulness.Steps} steps; such images lie outside the training data, so a drop in probability ")
                + "mixes the loss of evidence with the model's reaction to unnatural inputs. The verdicts' intervals assume the per-sample differences' mean is normal (n ≥ 2).");
        if (summary.Dependence is not null)
            caveats.Add("Partial dependence sets a feature to each grid value in every row, including combinations the data never has when features are correlated "
                + "(ALE avoids them); neither curve shows interactions, which the ICE curves only hint at. Permutation importance says what accuracy needs, not which decisions a feature changes.");
        if (!report.Labelled)
            caveats.Add("The job had no labels: there is no accuracy or error analysis, and every explanation is for the class the model predicted, right or wrong.");
        if (!report.HasInputs && !report.IsTable)
            caveats.Add("This report was made without access to the inputs (their location is redacted or unreadable), so sample images and their overlays are left out.");

        var html = new StringBuilder("<h4>What was sampled</h4>")
            .Append(sampled.Count == 0 ? "<p>Nothing: every method explained every sample.</p>" : List(sampled))
            .Append("<h4>What the methods and checks cannot show</h4>").Append(List(caveats));
        return new ReportText(null, html.ToString());
    }

    /// <summary>A method's <c>subset</c> option in words.</summary>
    private static string Subset(JsonElement? subset)
    {
        string? Value(string key) => subset is { } s && JobFileValues.At(s, key) is { } v ? v.GetRawText() : null;
        return Value("perClass") is { } k ? $"{k} per (target class × correct) stratum, those with the smallest seeded keys, seed {Value("seed") ?? "0"}"
            : Value("fraction") is { } f ? $"each sample kept with probability {f} from its seeded key, seed {Value("seed") ?? "0"}"
            : "its subset";
    }

    private static string List(IEnumerable<string> items) => "<ul>" + string.Concat(items.Select(i => "<li>" + E(i) + "</li>")) + "</ul>";
}
