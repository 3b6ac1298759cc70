using ExplainCluster.Contracts;
using ExplainCluster.Engine.Faithfulness;
using ExplainCluster.Engine.Jobs;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Models;
using ExplainCluster.Engine.Output;
using static TorchSharp.torch;

namespace ExplainCluster.Engine.Trust;

/// <summary>
/// The trust metrics of a shard's maps, batch by batch on the model-host thread, kept per sample as plain arrays (NaN
/// where a metric did not evaluate the sample): complexity on every sample a method explained, the others on the samples
/// of the <c>trust</c> subset that the method explained.
/// </summary>
public sealed class TrustRecorder
{
    private readonly TrustSpec _spec;
    private readonly MethodRerun[] _methods;
    private readonly Subset _subset;
    private readonly string[] _metrics;
    private readonly double[][][] _values; // [method][metric][sample]

    /// <param name="methods">The methods it evaluates, in the order of <see cref="Add"/>'s positions.</param>
    /// <param name="subset">The samples of the expensive metrics (a stratified one with its choice in this shard).</param>
    public TrustRecorder(TrustSpec spec, IReadOnlyList<IAttributionMethod> methods, Subset subset, ILayerSplit? split, int samples)
    {
        (_spec, _subset) = (spec, subset);
        _methods = [.. methods.Select(m => new MethodRerun(m, split))];
        _metrics = [.. MetricsOf(spec)];
        _values = [.. methods.Select(_ => _metrics.Select(_ => Enumerable.Repeat(double.NaN, samples).ToArray()).ToArray())];
    }

    /// <summary>The metrics <paramref name="spec"/> computes, in their column order.</summary>
    public static IEnumerable<string> MetricsOf(TrustSpec spec)
    {
        if (spec.Complexity) yield return TrustMetrics.Sparseness;
        if (spec.Complexity) yield return TrustMetrics.Complexity;
        if (spec.Sensitivity is not null) yield return TrustMetrics.MaxSensitivity;
        if (spec.Sensitivity is not null) yield return TrustMetrics.AvgSensitivity;
        if (spec.RandomLogit) yield return TrustMetrics.RandomLogit;
        if (spec.Road is not null) yield return TrustMetrics.RoadMorf;
        if (spec.Road is not null) yield return TrustMetrics.RoadLerf;
        if (spec.Road is not null) yield return TrustMetrics.Road;
    }

    /// <summary>One batch: each entry is a method's position in the recorder's list, its maps [r, ...] and the batch rows they belong to (null: every row).</summary>
    public void Add(int start, MethodBatch batch, IReadOnlyList<(int Method, Tensor Maps, int[]? Rows)> maps)
    {
        using var scope = NewDisposeScope();
        var classes = (int)batch.Shared.Logits.shape[1];
        foreach (var (m, map, rows) in maps)
        {
            var explained = rows ?? [.. Enumerable.Range(0, (int)batch.Input.shape[0])];
            var ofMethod = rows is null ? batch : batch.Select(rows);
            var detached = map.detach();
            if (_spec.Complexity)
            {
                var (sparseness, entropy) = Complexity.Of(PixelScores.For(detached.abs(), ofMethod.Input));
                Put(m, TrustMetrics.Sparseness, start, explained, Values(sparseness));
                Put(m, TrustMetrics.Complexity, start, explained, Values(entropy));
            }
            // The expensive metrics on the trust subset's samples among those the method explained.
            var chosen = Enumerable.Range(0, explained.Length).Where(j => _subset.Includes(ofMethod.Indices[j])).ToArray();
            if (chosen.Length == 0 || !(_spec.Sensitivity is not null || _spec.RandomLogit || _spec.Road is not null)) continue;
            var sub = chosen.Length == explained.Length ? ofMethod : ofMethod.Select(chosen);
            var subMaps = chosen.Length == explained.Length ? detached
                : detached.index_select(0, tensor(chosen.Select(j => (long)j).ToArray(), device: detached.device));
            var positions = chosen.Select(j => explained[j]).ToArray();
            if (_spec.Sensitivity is { } sensitivity)
            {
                var (max, mean) = Sensitivity.Compute(_methods[m], sub, subMaps, sensitivity, _spec.Seed);
                Put(m, TrustMetrics.MaxSensitivity, start, positions, max);
                Put(m, TrustMetrics.AvgSensitivity, start, positions, mean);
            }
            if (_spec.RandomLogit) Put(m, TrustMetrics.RandomLogit, start, positions, RandomLogit.Compute(_methods[m], sub, subMaps, classes, _spec.Seed));
            if (_spec.Road is { } road)
            {
                var (morf, lerf) = Road.Compute(sub, subMaps, road, _spec.Seed);
                Put(m, TrustMetrics.RoadMorf, start, positions, morf);
                Put(m, TrustMetrics.RoadLerf, start, positions, lerf);
                Put(m, TrustMetrics.Road, start, positions, [.. lerf.Zip(morf, (l, o) => (l - o) / 2)]);
            }
        }
    }

    public TrustResult Result() => new(_metrics, [.. _methods.Select((m, i) => new TrustMethodResult(m.Method.Name, _values[i]))]);

    private void Put(int method, string metric, int start, int[] rows, double[] values)
    {
        var column = _values[method][Array.IndexOf(_metrics, metric)];
        for (var j = 0; j < rows.Length; j++) column[start + rows[j]] = values[j];
    }

    private static double[] Values(Tensor t) => t.to(float64).cpu().contiguous().data<double>().ToArray();
}

/// <summary>The trust metrics' names: the parquet columns' suffixes and summary.json's keys.</summary>
public static class TrustMetrics
{
    public const string Sparseness = "sparseness";
    public const string Complexity = "complexity";
    public const string MaxSensitivity = "max_sensitivity";
    public const string AvgSensitivity = "avg_sensitivity";
    public const string RandomLogit = "random_logit";
    public const string RoadMorf = "road_morf";
    public const string RoadLerf = "road_lerf";
    public const string Road = "road";
}

/// <summary>A shard's trust metrics: per method, per metric (in <see cref="Metrics"/>' order), one value per sample (NaN: not evaluated).</summary>
public sealed record TrustResult(string[] Metrics, TrustMethodResult[] Methods)
{
    /// <summary>The parquet columns, <c>&lt;method&gt;_&lt;metric&gt;</c>, null where a metric did not evaluate the sample.</summary>
    public IEnumerable<SampleColumn> Columns => Methods.SelectMany(m => Metrics.Select((metric, k) =>
        new SampleColumn($"{OutputLayout.Column(m.Method)}_{metric}", Array.ConvertAll(m.Values[k], v => (float)v))));
}

public sealed record TrustMethodResult(string Method, double[][] Values);
