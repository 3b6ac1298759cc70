using ExplainCluster.Contracts;
using ExplainCluster.Engine.Methods;
using ExplainCluster.Engine.Segmentation;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// The segments of a job's images, for the methods that switch segments on and off (lime, kernel-shap):
/// computed in plain C# on the raw image scaled to [0, 1], one shard at a time, off the model host's threads.
/// </summary>
public static class JobSegments
{
    /// <summary>The job's segmentation when one of its methods uses segments (lime's quickshift when the job names none); else null.</summary>
    public static SegmentsSpec? For(JobSpec job) => JobPlan.Of(job).Segments;

    /// <summary>Segments every sample of <paramref name="data"/>: raw · scale clamped to [0, 1], shaped as the model takes it.</summary>
    public static SegmentedBatch Compute(SegmentsSpec spec, PreprocessSpec preprocess, ShardData data)
    {
        var scale = (float)preprocess.Scale;
        var images = new float[data.Raw.Length];
        for (var i = 0; i < images.Length; i++) images[i] = Math.Clamp(data.Raw[i] * scale, 0f, 1f);
        return SegmentBatch.Run(SegmenterRegistry.Create(spec), images, [data.Count, .. data.SampleShape]);
    }
}
