using System.Text.Json;
using System.Text.Json.Serialization;
using ExplainCluster.Engine.Output;

namespace ExplainCluster.Engine.Stats;

/// <summary>
/// summary.json (a documented contract): how many samples, the classes and the predictions per class, then one section
/// per feature (<see cref="Features.FeatureRegistry"/>, in its order; null for a feature that did not run), each read
/// through the feature's own accessor (<c>summary.Methods</c>, <c>summary.Faithfulness</c>, …). It holds scalars and
/// tables that grow with the class count at most; maps and the confusion matrix are .npy files beside it
/// (<see cref="SummaryArray"/>), named here by their path relative to the output.
/// </summary>
public sealed record Summary(long Samples, string[] Classes, long[] PredictedCounts)
{
    private readonly Dictionary<string, object?> _read = new(StringComparer.Ordinal);

    /// <summary>The features' sections by name, in order: typed when built, JSON when read from summary.json.</summary>
    [JsonExtensionData]
    public Dictionary<string, object?> Sections { get; init; } = new(StringComparer.Ordinal);

    /// <summary>The section <paramref name="name"/> as <typeparamref name="T"/>; null when absent or null.</summary>
    public T? Section<T>(string name) where T : class
    {
        lock (_read)
        {
            if (_read.TryGetValue(name, out var cached)) return (T?)cached;
            var value = Sections.GetValueOrDefault(name) switch
            {
                null => null,
                T typed => typed,
                JsonElement { ValueKind: JsonValueKind.Null } => null,
                JsonElement element => element.Deserialize<T>(Manifest.Json),
                var other => JsonSerializer.SerializeToElement(other, Manifest.Json).Deserialize<T>(Manifest.Json),
            };
            _read[name] = value;
            return value;
        }
    }
}

/// <param name="AccuracyInterval">The accuracy with its Wilson interval at <see cref="Confidence"/> over every labelled sample.</param>
/// <param name="Confidence">The intervals' confidence (the job's <c>verdicts.confidence</c>, 0.95 unless set).</param>
public sealed record ErrorAnalysis(
    double Accuracy,
    double MeanNll,
    string Confusion,
    ClassMetrics[] PerClass,
    double ExpectedCalibrationError,
    ReliabilityBin[] Reliability,
    TopLoss[] HighestLoss,
    ConfusedPair[] MostConfused,
    Estimate AccuracyInterval,
    double Confidence);

/// <param name="RecallInterval">Recall's Wilson interval; n is the class's support (labelled as the class).</param>
/// <param name="PrecisionInterval">Precision's Wilson interval; n is the samples predicted as the class.</param>
public sealed record ClassMetrics(int Class, string Name, long Support, double Accuracy, double Precision, double Recall, double F1,
    Estimate RecallInterval, Estimate PrecisionInterval);

/// <param name="AccuracyInterval">The bin's accuracy with its Wilson interval over the bin's <see cref="Count"/> samples.</param>
public sealed record ReliabilityBin(int Bin, double Lower, double Upper, long Count, double MeanConfidence, double Accuracy, Estimate AccuracyInterval);

public sealed record TopLoss(long Index, double Loss, int Label, int Prediction, double Confidence, int Shard, int Row);

public sealed record ConfusedPair(int Label, int Prediction, string LabelName, string PredictionName, long Count);

/// <summary>
/// One method over the whole job: the mean |attribution| (a number, and a map in <see cref="MeanAbsMap"/>,
/// float32 shaped as a map) and the mean map per target class in <see cref="ClassMeans"/> (float32
/// [classes with samples, ...map shape]; <see cref="PerClass"/> says which row is which class).
/// </summary>
/// <see cref="Samples"/>: how many samples the method explained (all of them, or its subset's).
public sealed record MethodSummary(int[] MapShape, double MeanAbs, string? MeanAbsMap, string? ClassMeans, ClassRow[] PerClass, long Samples);

/// <summary>A target class with samples: how many, and its row in the class-means file.</summary>
public sealed record ClassRow(int Class, string Name, long Count, int Row);

/// <summary>The mean scaled input per target class, for overlays: float32 [classes with samples, ...shape].</summary>
public sealed record InputSummary(int[] Shape, string ClassMeans, ClassRow[] PerClass);

/// <summary>A .npy file written beside summary.json: its path relative to the output, shape and values.</summary>
public sealed record SummaryArray(string Path, long[] Shape, Array Values);

/// <summary>What merging a job's partials gives: summary.json and the arrays it names.</summary>
public sealed record SummaryOutput(Summary Summary, SummaryArray[] Arrays);

/// <summary>Each feature's section of a summary, read as its record.</summary>
public static class SummaryParts
{
    extension(Summary summary)
    {
        /// <summary>summary.json's <c>errorAnalysis</c>; null without labels.</summary>
        public ErrorAnalysis? ErrorAnalysis => summary.Section<ErrorAnalysis>("errorAnalysis");

        /// <summary>summary.json's <c>methods</c>.</summary>
        public Dictionary<string, MethodSummary> Methods => summary.Section<Dictionary<string, MethodSummary>>("methods") ?? [];

        /// <summary>summary.json's <c>inputs</c>.</summary>
        public InputSummary Inputs => summary.Section<InputSummary>("inputs") ?? throw new InvalidOperationException("summary.json has no inputs");
    }
}
