using System.Diagnostics.CodeAnalysis;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Options;

namespace ExplainCluster.Engine.Segmentation;

/// <summary>How an algorithm is named in job files, how its options are read, and how its segmenter is made.</summary>
public sealed record SegmenterDescriptor(string Name, Func<OptionsReader, SegmentsSpec> Read, Func<SegmentsSpec, ISegmenter> Create);

/// <summary>The segmentation algorithms a job may name. A new one is one more entry here and one small class.</summary>
public static class SegmenterRegistry
{
    private static readonly Dictionary<string, SegmenterDescriptor> Algorithms = new SegmenterDescriptor[]
    {
        new(SegmentsSpec.QuickshiftName,
            o => SegmentsSpec.Quickshift(
                o.Number("kernelSize", SegmentsSpec.DefaultKernelSize, min: 1, max: 100, "a number from 1 to 100"),
                o.Number("maxDist", SegmentsSpec.DefaultMaxDist, min: double.Epsilon, max: double.MaxValue, "a positive number"),
                o.Number("ratio", SegmentsSpec.DefaultRatio, min: 0, max: 1, "a number from 0 to 1")),
            s => new Quickshift(s.KernelSize, s.MaxDist, s.Ratio)),
        new(SegmentsSpec.SlicName,
            o => SegmentsSpec.Slic(
                o.Integer("segments", SegmentsSpec.DefaultSegments, max: SegmentsOptions.MaxCount),
                o.Number("compactness", SegmentsSpec.DefaultCompactness, min: double.Epsilon, max: double.MaxValue, "a positive number")),
            s => new Slic(s.Segments, s.Compactness)),
        new(SegmentsSpec.GridName,
            o => SegmentsSpec.Grid(o.Integer("rows", null, max: SegmentsOptions.MaxCount), o.Integer("cols", null, max: SegmentsOptions.MaxCount)),
            s => new Grid(s.Rows, s.Cols)),
    }.ToDictionary(d => d.Name, StringComparer.Ordinal);

    public static IEnumerable<string> Names => Algorithms.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out SegmenterDescriptor? descriptor) =>
        Algorithms.TryGetValue(name, out descriptor);

    public static ISegmenter Create(SegmentsSpec spec) =>
        TryGet(spec.Algorithm, out var descriptor) ? descriptor.Create(spec)
            : throw new ExplainException($"segments.algorithm: unknown algorithm '{spec.Algorithm}' (known: {string.Join(", ", Names)})");
}
