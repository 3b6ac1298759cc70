namespace ExplainCluster.Contracts;

/// <summary>
/// How images are cut into segments for lime and kernel-shap: one algorithm by name, with its options.
/// Options of the other algorithms keep their defaults and are ignored, so one flat record serializes
/// every choice; the defaults are those of the lime package (quickshift) and of the job file (slic).
/// </summary>
[GenerateSerializer, Immutable, Alias("ec.SegmentsSpec")]
public sealed record SegmentsSpec(
    [property: Id(0)] string Algorithm,
    [property: Id(1)] double KernelSize = SegmentsSpec.DefaultKernelSize,
    [property: Id(2)] double MaxDist = SegmentsSpec.DefaultMaxDist,
    [property: Id(3)] double Ratio = SegmentsSpec.DefaultRatio,
    [property: Id(4)] int Segments = SegmentsSpec.DefaultSegments,
    [property: Id(5)] double Compactness = SegmentsSpec.DefaultCompactness,
    [property: Id(6)] int Rows = 0,
    [property: Id(7)] int Cols = 0)
{
    public const string QuickshiftName = "quickshift";
    public const string SlicName = "slic";
    public const string GridName = "grid";

    // lime_image.LimeImageExplainer's segmentation_fn: quickshift(kernel_size=4, max_dist=200, ratio=0.2).
    public const double DefaultKernelSize = 4;
    public const double DefaultMaxDist = 200;
    public const double DefaultRatio = 0.2;
    public const int DefaultSegments = 50;
    public const double DefaultCompactness = 10;

    /// <summary>What a job without <c>segments</c> gets: lime's own quickshift.</summary>
    public static SegmentsSpec Default { get; } = Quickshift();

    public static SegmentsSpec Quickshift(double kernelSize = DefaultKernelSize, double maxDist = DefaultMaxDist, double ratio = DefaultRatio) =>
        new(QuickshiftName, KernelSize: kernelSize, MaxDist: maxDist, Ratio: ratio);

    public static SegmentsSpec Slic(int segments = DefaultSegments, double compactness = DefaultCompactness) =>
        new(SlicName, Segments: segments, Compactness: compactness);

    public static SegmentsSpec Grid(int rows, int cols) => new(GridName, Rows: rows, Cols: cols);
}
