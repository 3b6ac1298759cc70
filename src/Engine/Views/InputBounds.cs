using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Views;

/// <summary>Per-channel limits of the model's input space; a maximisation clamps its input to them after every step.</summary>
public sealed record InputBounds(float[] Low, float[] High)
{
    /// <summary>
    /// The image of raw values in [<paramref name="rawLow"/>, <paramref name="rawHigh"/>] under the job's
    /// preprocessing x = (raw · scale − mean[c]) / std[c] (8-bit images: 0 and 255 with scale 1/255).
    /// </summary>
    public static InputBounds For(PreprocessSpec preprocess, int channels, double rawLow = 0, double rawHigh = 255)
    {
        float Map(double raw, int c)
        {
            var x = raw * preprocess.Scale;
            if (preprocess.Mean is not { } mean) return (float)x;
            var std = preprocess.Std![mean.Length == 1 ? 0 : c];
            return (float)((x - mean[mean.Length == 1 ? 0 : c]) / std);
        }
        var (low, high) = (new float[channels], new float[channels]);
        for (var c = 0; c < channels; c++)
            (low[c], high[c]) = (Math.Min(Map(rawLow, c), Map(rawHigh, c)), Math.Max(Map(rawLow, c), Map(rawHigh, c)));
        return new InputBounds(low, high);
    }
}
