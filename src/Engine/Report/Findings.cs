using System.Globalization;
using ExplainCluster.Engine.Cohorts;
using ExplainCluster.Engine.Concepts;
using ExplainCluster.Engine.ErrorTree;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.ParamGrads;
using ExplainCluster.Engine.Stats;
using ExplainCluster.Engine.Verdicts;
using ExplainCluster.Engine.Views;

namespace ExplainCluster.Engine.Report;

/// <summary>A conclusion in one sentence, generated from the numbers, under the topic it is about ("recall", "trust", …).</summary>
public sealed record Finding(string Topic, string Text);

/// <summary>
/// The report's findings: sentences made from summary.json's numbers alone (never written by hand), shared by the
/// report's summary and evidence.json. Each topic appears when the job computed what it speaks of.
/// </summary>
public static class Findings
{
    public static IReadOnlyList<Finding> Of(Manifest manifest, Summary summary)
    {
        var inv = CultureInfo.InvariantCulture;
        var target = manifest.Target == "label" ? "each for its labelled class" : "each for the class the model predicted";
        var findings = new List<Finding>
        {
            new("scope", string.Create(inv, $"{summary.Samples} samples of {summary.Classes.Length} classes were explained with {List(manifest.Methods)}, {target}.")),
        };
        if (summary.ErrorAnalysis is { } errors) findings.AddRange(Performance(errors, inv));
        if (summary.Cohorts is { } cohorts)
            findings.AddRange(cohorts.Columns.Where(c => c.Cohorts.Length > 0).Select(c =>
                new Finding("cohorts", $"Cohorts by {c.Column}: {Sections.CohortsSection.Finding(c, EstimateText.Level(cohorts.Confidence))}")));
        if (summary.ErrorTree is { Leaves.Length: > 0 } tree) findings.Add(new Finding("errorTree", Sections.ErrorTreeSection.Finding(tree)));
        if (summary.Verdicts is { } verdicts) findings.AddRange(Trust(verdicts));
        if (summary.Concepts is { } tcav) findings.Add(ConceptFinding(tcav, inv));
        if (summary.Views is { } views) findings.AddRange(Views(views, EstimateText.Level(summary.Verdicts?.Confidence ?? Intervals.DefaultConfidence), inv));
        if (summary.ParamGrads is { Correct.MeanNorm: { } correct, Incorrect.MeanNorm: { } incorrect } paramGrads && correct > 0)
            findings.Add(new("paramGrads", string.Create(inv,
                $"Misclassified samples have a mean parameter-gradient norm of {incorrect:G3} against {correct:G3} for correct ones ({incorrect / correct:F1} times; {paramGrads.Incorrect.Count} and {paramGrads.Correct.Count} samples).")));
        return findings;
    }

    private static IEnumerable<Finding> Performance(ErrorAnalysis e, IFormatProvider inv)
    {
        var present = e.PerClass.Where(c => c.Support > 0).ToArray();
        var level = EstimateText.Level(e.Confidence);
        yield return new("accuracy", string.Create(inv,
            $"Accuracy is {e.Accuracy:P2} on {present.Sum(c => c.Support)} labelled samples{EstimateText.IntervalClause(e.AccuracyInterval, level, "F2")}; the expected calibration error is {e.ExpectedCalibrationError:F4} (0: confidence matches accuracy)."));
        if (present.Length >= 2)
        {
            // Ties go to the lower class index, so the sentence is the same however the job was sharded.
            var best = present.OrderByDescending(c => c.Recall).ThenBy(c => c.Class).First();
            var worst = present.OrderBy(c => c.Recall).ThenBy(c => c.Class).First();
            yield return new("recall", string.Create(inv,
                $"The class recognised best is {best.Name} (recall {best.Recall:P1} of {best.Support}{EstimateText.IntervalClause(best.RecallInterval, level, "F1")}); the worst is {worst.Name} (recall {worst.Recall:P1} of {worst.Support}{EstimateText.IntervalClause(worst.RecallInterval, level, "F1")})."));
        }
        if (e.MostConfused.Length > 0)
            yield return new("confusions", "The main confusions: "
                + string.Join("; ", e.MostConfused.Take(3).Select(p => string.Create(inv, $"{p.LabelName} taken for {p.PredictionName} {p.Count} times"))) + ".");
    }

    /// <summary>Which methods passed their trust checks: faithful against random, and the sanity check passed where it ran.</summary>
    private static IEnumerable<Finding> Trust(VerdictsSummary verdicts)
    {
        var passed = verdicts.Methods.Where(m => Passed(m.Value)).Select(m => m.Key).ToArray();
        yield return new("trust", passed.Length == 0
            ? "No explanation method passed its trust checks (faithful against a random ordering, and the sanity check where it ran)."
            : $"Passed their trust checks (faithful against a random ordering, and the sanity check where it ran): {List(passed)}.");
        var others = verdicts.Methods.Where(m => !Passed(m.Value))
            .Select(m => $"{m.Key}: {m.Value.Faithfulness}" + (m.Value.Sanity == VerdictsFeature.SanityFailed ? ", sanity check failed" : ""))
            .ToArray();
        if (others.Length > 0) yield return new("trust", $"Not passed: {string.Join("; ", others)}.");
    }

    /// <summary>TCAV's significant (class, concept) pairs, each said as raising or lowering the class against random directions.</summary>
    private static Finding ConceptFinding(TcavSummary tcav, IFormatProvider inv)
    {
        var significant = tcav.Classes.SelectMany(c => c.Concepts.Where(k => k.Significant).Select(k => (c, k))).ToArray();
        var tests = tcav.Classes.Length * tcav.Concepts.Length;
        if (significant.Length == 0)
            return new("concepts", string.Create(inv,
                $"At layer {tcav.Layer}, no concept ({List(tcav.Concepts)}) moved any class's score differently from random directions (TCAV, {tcav.Runs} runs, {tests} tests)."));
        var listed = significant.Take(5).Select(s => string.Create(inv,
            $"{s.k.Concept} {(s.k.Mean > s.c.Random.Mean ? "raises" : "lowers")} {s.c.Name} (TCAV score {s.k.Mean:F2} against {s.c.Random.Mean:F2} for random directions)"));
        return new("concepts", string.Create(inv,
            $"At layer {tcav.Layer}, {significant.Length} of {tests} (class, concept) pairs differ significantly from random directions: {string.Join("; ", listed)}{(significant.Length > 5 ? "; …" : "")}."));
    }

    public static bool Passed(MethodVerdict verdict) => verdict.Faithfulness == VerdictsFeature.Faithful && verdict.Sanity != VerdictsFeature.SanityFailed;

    private static IEnumerable<Finding> Views(ViewsSummary views, string level, IFormatProvider inv)
    {
        if (views.Weights is { Parameters.Length: > 0 } weights && weights.Parameters.MaxBy(p => p.NearZero) is { } sparse)
            yield return new("weights", string.Create(inv, $"The parameter tensor with the most weights near zero is {sparse.Name} ({sparse.NearZero:P1} of them)."));
        if (views.Activations is { Layers.Length: > 0 } activations && activations.Layers.MaxBy(l => l.DeadFraction) is { } dead)
            yield return new("activations", dead.DeadFraction == 0
                ? string.Create(inv, $"No channel is dead in the {activations.Layers.Length} layers examined.")
                : string.Create(inv, $"Layer {dead.Layer} has the most dead channels: {dead.DeadFraction:P1} of its {dead.Channels} never fired."));
        if (views.Pruning is { MaxRemovable: { } removable } pruning)
            yield return new("pruning", string.Create(inv,
                $"{removable} of the pruned layer's {pruning.Order.Length} channels can be zeroed together for under one point of {(pruning.Labelled ? "accuracy" : "target probability")} lost ({pruning.Samples} samples)."));
        if (views.Maximisation is { Classes.Length: > 0 } maximisation && maximisation.Classes.MinBy(c => c.Probability) is { } hardest)
            yield return new("maximisation", string.Create(inv,
                $"Activation maximisation made an input for each of {maximisation.Classes.Length} classes; the least convincing is {hardest.Name} (probability {hardest.Probability:P1})."));
        if (views.Embedding is { } embedding)
            yield return new("embedding", embedding.Knn is { } knn
                ? knn.Agreement is { Value: { } agreement } estimate
                    ? string.Create(inv, $"In the embedding at layer {embedding.Layer}, each sample's {knn.K} nearest neighbours agree with its label {agreement:P1} of the time on average{EstimateText.IntervalClause(estimate, level, "F1")}, estimated for the whole dataset from {knn.Samples} samples drawn per class and outcome and reweighted to their shares; those they disagree with most are candidate label errors.")
                    : string.Create(inv, $"In the embedding at layer {embedding.Layer}, each sample's {knn.K} nearest neighbours agree with its label {knn.MeanAgreement:P1} of the time on average ({knn.Samples} samples); those they disagree with most are candidate label errors.")
                : string.Create(inv, $"The embedding at layer {embedding.Layer}: its first {embedding.Dims} principal components hold {embedding.Explained.Sum():P0} of the variance."));
    }

    private static string List(IEnumerable<string> items) => string.Join(", ", items);
}
