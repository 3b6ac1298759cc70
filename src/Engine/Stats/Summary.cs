namespace ExplainCluster.Engine.Stats;

/// <summary>summary.json: error analysis and per-method global statistics (a documented contract).</summary>
public sealed record Summary(
    long Samples,
    string[] Classes,
    long[] PredictedCounts,
    ErrorAnalysis? ErrorAnalysis,
    Dictionary<string, MethodSummary> Methods,
    InputSummary Inputs);

public sealed record ErrorAnalysis(
    double Accuracy,
    double MeanNll,
    long[][] Confusion,
    ClassMetrics[] PerClass,
    double ExpectedCalibrationError,
    ReliabilityBin[] Reliability,
    TopLoss[] HighestLoss,
    ConfusedPair[] MostConfused);

public sealed record ClassMetrics(int Class, string Name, long Support, double Accuracy, double Precision, double Recall, double F1);

public sealed record ReliabilityBin(int Bin, double Lower, double Upper, long Count, double MeanConfidence, double Accuracy);

public sealed record TopLoss(long Index, double Loss, int Label, int Prediction, double Confidence, int Shard, int Row);

public sealed record ConfusedPair(int Label, int Prediction, string LabelName, string PredictionName, long Count);

/// <summary>Per target class: how many samples, and the mean attribution map.</summary>
public sealed record MethodSummary(int[] MapShape, double MeanAbs, double[] MeanAbsMap, ClassMap[] PerClass);

public sealed record ClassMap(int Class, string Name, long Count, double[] MeanMap);

/// <summary>The mean scaled input per target class, for overlays.</summary>
public sealed record InputSummary(int[] Shape, ClassMap[] PerClass);
