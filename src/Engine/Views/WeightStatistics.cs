using ExplainCluster.Contracts;
using ExplainCluster.Engine.Models;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Views;

/// <summary>The <c>weights</c> view: statistics of every parameter tensor of the model, and its first convolution's filters.</summary>
public static class WeightStatistics
{
    public static WeightsPartial Compute(ExplainModel model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var parameters = new List<ParameterStatistics>();
        (string Name, Tensor Weight)? firstConv = null;
        foreach (var (layer, tensors) in model.ParameterLayers())
        {
            var names = model.ParameterNames(layer);
            for (var t = 0; t < tensors.Length; t++)
            {
                var w = tensors[t].detach().to(float64).cpu();
                parameters.Add(Statistics(names[t], w));
                if (firstConv is null && w.dim() == 4) firstConv = (layer, w);
            }
        }
        return new WeightsPartial([.. parameters], firstConv?.Name, [.. (firstConv?.Weight.shape ?? []).Select(d => (int)d)],
            firstConv is { } conv ? conv.Weight.to(float32).contiguous().data<float>().ToArray() : []);
    }

    /// <summary>One tensor's statistics (population standard deviation; the histogram's bins split [min, max] evenly, max in the last).</summary>
    public static ParameterStatistics Statistics(string name, Tensor w)
    {
        var values = w.flatten().data<double>().ToArray();
        var n = values.Length;
        var mean = values.Average();
        var std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / n);
        var (min, max) = (values.Min(), values.Max());
        var absMax = values.Max(Math.Abs);
        var histogram = new long[ParameterStatistics.Bins];
        foreach (var v in values)
            histogram[max > min ? Math.Min(ParameterStatistics.Bins - 1, (int)((v - min) / (max - min) * ParameterStatistics.Bins)) : 0]++;
        return new ParameterStatistics(name, w.shape, Math.Sqrt(values.Sum(v => v * v)), mean, std,
            (double)values.Count(v => Math.Abs(v) < 1e-3 * absMax) / n, min, max, histogram);
    }
}
