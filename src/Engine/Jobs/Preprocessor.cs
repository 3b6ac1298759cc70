using ExplainCluster.Contracts;
using TorchSharp;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Jobs;

/// <summary>x = (raw · scale − mean[c]) / std[c], channel c being the first per-sample dimension.</summary>
public sealed class Preprocessor
{
    private readonly double _scale;
    private readonly float[]? _mean;
    private readonly float[]? _std;
    private readonly long[] _broadcast;

    private Preprocessor(double scale, float[]? mean, float[]? std, long[] broadcast)
    {
        _scale = scale;
        _mean = mean;
        _std = std;
        _broadcast = broadcast;
    }

    public static Preprocessor Create(PreprocessSpec spec, int[] sampleShape)
    {
        if (spec.Mean is { } mean && mean.Length != 1 && (sampleShape.Length == 0 || mean.Length != sampleShape[0]))
            throw new ExplainException(
                $"data.preprocess.mean has {mean.Length} values but samples have {(sampleShape.Length == 0 ? 1 : sampleShape[0])} channels");
        long[] broadcast = [1, spec.Mean?.Length ?? 1, .. Enumerable.Repeat(1L, Math.Max(0, sampleShape.Length - 1))];
        return new Preprocessor(spec.Scale, spec.Mean?.Select(v => (float)v).ToArray(), spec.Std?.Select(v => (float)v).ToArray(), broadcast);
    }

    public Tensor Apply(Tensor raw)
    {
        // The scale as a Scalar held until the multiplication returns: an implicit one is unreachable during the native
        // call, and its finalizer can free it there ("Unknown scalar type", seen in a long-running process).
        using var scale = _scale.ToScalar();
        var x = _scale == 1.0 ? raw : raw.mul(scale);
        if (_mean is null) return x;
        return (x - tensor(_mean).view(_broadcast)) / tensor(_std!).view(_broadcast);
    }
}
