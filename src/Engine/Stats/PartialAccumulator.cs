namespace ExplainCluster.Engine.Stats;

/// <summary>Per-shard counts of predictions and per-target-class sums of the (scaled) input.</summary>
public sealed class PartialAccumulator(int classes, int sampleElements)
{
    public long[] PredictedCounts { get; } = new long[classes];

    public double[] InputClassSum { get; } = new double[(long)classes * sampleElements];

    public long[] InputClassCount { get; } = new long[classes];

    public void AddPredictions(int[] predictions)
    {
        foreach (var p in predictions) PredictedCounts[p]++;
    }

    public void AddInputs(float[] raw, long[] targets, double scale)
    {
        for (var i = 0; i < targets.Length; i++)
        {
            var c = (int)targets[i];
            InputClassCount[c]++;
            var sum = InputClassSum.AsSpan(c * sampleElements, sampleElements);
            var row = raw.AsSpan(i * sampleElements, sampleElements);
            for (var j = 0; j < sampleElements; j++) sum[j] += row[j] * scale;
        }
    }
}
