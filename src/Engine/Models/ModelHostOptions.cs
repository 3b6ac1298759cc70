namespace ExplainCluster.Engine.Models;

/// <summary>Bound from the configuration section "ModelHost".</summary>
public sealed class ModelHostOptions
{
    public const string Section = "ModelHost";

    /// <summary>"cpu" or "cuda" (the latter needs a CUDA build of libtorch and a GPU).</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Threads this silo owns for tensor work; each runs one batch at a time.</summary>
    public int WorkerThreads { get; set; } = 1;

    /// <summary>libtorch intra-op threads (torch.set_num_threads); 0 keeps libtorch's default.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Folder where models fetched from blob storage are cached for torch.jit.load.</summary>
    public string CacheDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "explaincluster-models");

    public string? Validate()
    {
        if (Device is not ("cpu" or "cuda")) return $"{Section}:Device must be \"cpu\" or \"cuda\", not \"{Device}\"";
        if (WorkerThreads is < 1 or > 64) return $"{Section}:WorkerThreads must be from 1 to 64";
        if (IntraOpThreads is < 0 or > 1024) return $"{Section}:IntraOpThreads must be from 0 to 1024";
        return null;
    }
}
