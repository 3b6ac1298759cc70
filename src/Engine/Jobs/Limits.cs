using System.Globalization;
using ExplainCluster.Contracts;

namespace ExplainCluster.Engine.Jobs;

/// <summary>
/// What one job may ask of a shared cluster (configuration section <c>Limits</c>). The sizes are checked when the
/// job is submitted, before any shard runs; <see cref="BatchTimeout"/> while its shards run. Each refusal names the
/// limit and the value.
/// </summary>
public sealed class Limits
{
    public const string Section = "Limits";

    /// <summary>Samples in one job (default one billion).</summary>
    public long MaxSamples { get; set; } = 1_000_000_000;

    /// <summary>The model file's size (default 4 GiB: larger than any torchvision or timm classifier's weights).</summary>
    public long MaxModelBytes { get; set; } = 4L << 30;

    /// <summary>One sample as the model receives it, float32 after preprocessing (default 64 MiB: 3 × 2048 × 2048 is 48 MiB).</summary>
    public long MaxSampleBytes { get; set; } = 64L << 20;

    /// <summary>
    /// How long one batch (forward, backward and the methods' work on it) may run (default 10 minutes: a large
    /// model's batch takes seconds). A batch that runs longer fails its shard, and the job, with one line: a
    /// forward that never returns holds a thread nobody can interrupt, and would hang again on a retry.
    /// </summary>
    public TimeSpan BatchTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Bytes of error-tree rows a silo keeps in memory from one level of a job's tree to the next (<see cref="ErrorTree.TreeRowsCache"/>);
    /// the shards past it read the rows their first level staged. 0 keeps none.
    /// </summary>
    public long TreeRowsBytes { get; set; } = 8L << 20;

    /// <summary>The longest <see cref="BatchTimeout"/> accepted.</summary>
    public static readonly TimeSpan MaxBatchTimeout = TimeSpan.FromDays(1);

    public string? Validate() =>
        MaxSamples < 1 ? $"{Section}:MaxSamples must be at least 1"
        : MaxModelBytes < 1 ? $"{Section}:MaxModelBytes must be at least 1"
        : MaxSampleBytes < 1 ? $"{Section}:MaxSampleBytes must be at least 1"
        : TreeRowsBytes < 0 ? $"{Section}:TreeRowsBytes must be at least 0"
        : BatchTimeout <= TimeSpan.Zero || BatchTimeout > MaxBatchTimeout ? $"{Section}:BatchTimeout must be more than 0 and at most {MaxBatchTimeout:c}"
        : null;

    /// <summary>The refusal of a shard one of whose batches ran longer than <see cref="BatchTimeout"/>.</summary>
    public ExplainException BatchTimedOut(string model) =>
        new($"model {model}: one batch ran longer than {Section}:BatchTimeout ({BatchTimeout:c}); its forward may never return");

    /// <summary>Refuses a job whose dataset or model is over a limit.</summary>
    public void Check(JobSpec job, Dataset dataset, long modelBytes)
    {
        if (dataset.Count > MaxSamples)
            throw new ExplainException($"data.inputs: {N(dataset.Count)} samples exceed {Section}:MaxSamples ({N(MaxSamples)})");
        if (modelBytes > MaxModelBytes)
            throw new ExplainException($"model.uri: the model is {N(modelBytes)} bytes, above {Section}:MaxModelBytes ({N(MaxModelBytes)})");
        var sampleBytes = 4L * dataset.SampleShape.Aggregate(1L, (a, b) => a * b);
        if (sampleBytes > MaxSampleBytes)
            throw new ExplainException(
                $"data.inputs: one sample is {N(sampleBytes)} bytes as the model receives it ([{string.Join(", ", dataset.SampleShape)}] float32), above {Section}:MaxSampleBytes ({N(MaxSampleBytes)})");
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
