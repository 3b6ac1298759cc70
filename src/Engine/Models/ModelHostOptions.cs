namespace ExplainCluster.Engine.Models;

/// <summary>Bound from the configuration section "ModelHost".</summary>
public sealed class ModelHostOptions
{
    public const string Section = "ModelHost";

    /// <summary>"cpu" or "cuda" (the latter needs a CUDA build of libtorch and a GPU).</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>
    /// Threads this silo owns for tensor work, each computing one shard at a time. 0 (the default) means
    /// one per core on the CPU and one on a GPU: on CPU, shards side by side with one intra-op thread
    /// each scale better than one shard with many intra-op threads (docs/benchmarks.md).
    /// </summary>
    public int WorkerThreads { get; set; }

    /// <summary>libtorch intra-op threads per worker (torch.set_num_threads). 0 (the default) shares the
    /// cores among the workers on the CPU and keeps libtorch's default on a GPU.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>The worker count in effect.</summary>
    public int EffectiveWorkerThreads => WorkerThreads > 0 ? WorkerThreads : Device == "cpu" ? Environment.ProcessorCount : 1;

    /// <summary>The intra-op thread count in effect; 0 leaves libtorch's default.</summary>
    public int EffectiveIntraOpThreads =>
        IntraOpThreads > 0 ? IntraOpThreads : Device == "cpu" ? Math.Max(1, Environment.ProcessorCount / EffectiveWorkerThreads) : 0;

    /// <summary>
    /// Shards a silo holds at once: one per host thread plus one being read or written. Its shard pipeline
    /// admits this many, and it announces this capacity to jobs, which hand it no more at a time.
    /// </summary>
    public int ShardCapacity => EffectiveWorkerThreads + 1;

    /// <summary>
    /// Memory layout of image batches ([n, c, h, w]): "channels-last" (the default) or "contiguous".
    /// Channels-last lets oneDNN run its NHWC convolution kernels directly; in NCHW it reorders every
    /// activation and activation gradient into its blocked layout and back (docs/benchmarks.md). Other
    /// inputs are passed as they are.
    /// </summary>
    public string MemoryFormat { get; set; } = ChannelsLast;

    public const string ChannelsLast = "channels-last";

    public const string Contiguous = "contiguous";

    /// <summary>Folder where models fetched from blob storage are cached for torch.jit.load.</summary>
    public string CacheDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "explaincluster-models");

    /// <summary>
    /// A shard's partial statistics larger than this (1 MiB by default) reach the job by reference: the job
    /// reads them from the attempt's staged partial.bin instead of a grain message (capped at 100 MB).
    /// 0 sends every partial by reference.
    /// </summary>
    public long MaxInlinePartialBytes { get; set; } = 1 << 20;

    public string? Validate()
    {
        if (MaxInlinePartialBytes < 0) return $"{Section}:MaxInlinePartialBytes must be 0 or more";
        if (Device is not ("cpu" or "cuda")) return $"{Section}:Device must be \"cpu\" or \"cuda\", not \"{Device}\"";
        if (MemoryFormat is not (ChannelsLast or Contiguous))
            return $"{Section}:MemoryFormat must be \"{ChannelsLast}\" or \"{Contiguous}\", not \"{MemoryFormat}\"";
        if (WorkerThreads is < 0 or > 64) return $"{Section}:WorkerThreads must be from 0 (one per core) to 64";
        if (IntraOpThreads is < 0 or > 1024) return $"{Section}:IntraOpThreads must be from 0 to 1024";
        return null;
    }
}
