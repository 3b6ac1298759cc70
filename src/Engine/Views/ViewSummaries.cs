using ExplainCluster.Contracts;
using ExplainCluster.Engine.Output;
using ExplainCluster.Engine.Stats;

namespace ExplainCluster.Engine.Views;

/// <summary>
/// summary.json's <c>views.pruning</c>, measured on <see cref="Samples"/> samples drawn at random in the dataset's
/// proportions (so the baseline estimates the dataset's accuracy): channels ranked least important first
/// (<see cref="Order"/>, the curve's order) and most important first (<see cref="ByHarm"/>) by the drop in accuracy (with
/// labels) or in the target class's mean probability when each is zeroed alone; <see cref="Change"/> is the signed change
/// per channel (zeroed − baseline: negative when the removal hurts, −<see cref="Drop"/>); the curve with the k least
/// important zeroed together; and the most that can go for under one point of accuracy.
/// </summary>
/// <param name="BaselineInterval">The baseline accuracy with its Wilson interval over the samples; null without labels.</param>
public sealed record PruningView(long Samples, bool Labelled, double? BaselineAccuracy, double BaselineProbability, int[] Order, double[] Drop,
    int[] Removed, double[]? Accuracy, double[]? MeanProbability, int? MaxRemovable, Estimate? BaselineInterval, double[] Change, int[] ByHarm)
{
    public static PruningView Of(ImportanceSums importance, CurveSums? curveSums, double confidence)
    {
        var ranking = PruningSummary.Rank(importance);
        var curve = curveSums is null ? null : PruningSummary.Summarize(curveSums);
        return new PruningView(importance.Samples, importance.Labelled,
            importance.Labelled ? (double)importance.BaselineCorrect / importance.Samples : null, importance.BaselineProbability / importance.Samples,
            ranking.Order, ranking.Drop, curve?.Removed ?? [], curve?.Accuracy, curve?.MeanProbability, curve?.MaxRemovable,
            importance.Labelled ? Intervals.Wilson(importance.BaselineCorrect, importance.Samples, confidence) : null,
            Array.ConvertAll(ranking.Drop, d => -d), ranking.ByHarm);
    }
}

/// <summary>
/// summary.json's <c>views.maximisation</c>: per class, the maximising input's final logit and probability; per
/// Grad-CAM channel its final mean activation. The inputs (model input space) and the class trajectories are files.
/// </summary>
public sealed record MaximisationView(MaximisedClass[] Classes, MaximisedChannel[] Channels, int[] Shape, string? ClassInputs, string? ClassTrajectories,
    string? ChannelInputs)
{
    public static (MaximisationView Summary, SummaryArray[] Arrays) Of(IReadOnlyList<MaximisationImage> images, string[] classNames)
    {
        var classes = images.Where(i => i.Objective.Layer is null).OrderBy(i => i.Objective.Class).ToArray();
        var channels = images.Where(i => i.Objective.Layer is not null).OrderBy(i => i.Objective.Layer, StringComparer.Ordinal).ThenBy(i => i.Objective.Channel).ToArray();
        var shape = images[0].Shape;
        var arrays = new List<SummaryArray>();
        string? Array(string name, MaximisationImage[] rows, Func<MaximisationImage, float[]> values, long[] rowShape)
        {
            if (rows.Length == 0) return null;
            var file = OutputLayout.SummaryArray(name);
            arrays.Add(new SummaryArray(file, [rows.Length, .. rowShape], rows.SelectMany(values).ToArray()));
            return file;
        }
        var inputShape = shape.Select(d => (long)d).ToArray();
        var view = new MaximisationView(
            [.. classes.Select(i => new MaximisedClass(i.Objective.Class, classNames[i.Objective.Class], i.Value, i.Probability ?? double.NaN, i.Trajectory[0]))],
            [.. channels.Select(i => new MaximisedChannel(i.Objective.Layer!, i.Objective.Channel, i.Value, i.Trajectory[0]))],
            shape,
            Array("maximisation-classes", classes, i => i.Input, inputShape),
            Array("maximisation-class-trajectories", classes, i => i.Trajectory, [classes.Length == 0 ? 0 : classes[0].Trajectory.Length]),
            Array("maximisation-channels", channels, i => i.Input, inputShape));
        return (view, [.. arrays]);
    }
}

/// <summary>A class's maximising input: its logit at the end and at the first step, and its softmax probability.</summary>
public sealed record MaximisedClass(int Class, string Name, double Logit, double Probability, double StartLogit);

/// <summary>A channel's maximising input: its mean activation at the end and at the first step.</summary>
public sealed record MaximisedChannel(string Layer, int Channel, double Activation, double StartActivation);
