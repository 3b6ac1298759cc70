using System.Runtime.InteropServices;

namespace ExplainCluster.Engine.Models;

/// <summary>
/// glibc's malloc kept from growing over a long job. libtorch allocates each chunk's tensors with malloc; glibc raises its threshold
/// for serving a block by mmap to the largest block freed (up to 32 MB), after which freed tensors stay in the arenas as holes, and
/// every thread that allocates can get an arena of its own (up to 8 per core), each keeping its holes. A silo's memory outside the
/// GC heap then crept up by about 60 MB over a 10-minute job. <see cref="Configure"/> allows two arenas (unless
/// <c>MALLOC_ARENA_MAX</c> is set); <see cref="Trim"/> hands the arenas' free pages back after each shard. Fixing the mmap
/// threshold instead would keep the holes away but costs a page fault per page of every large tensor: it doubled an image job's
/// wall time (docs/benchmarks.md, "Memory outside the GC heap over a 10,000,000-row job"). Nothing is done off glibc.
/// </summary>
public static class NativeHeap
{
    private const int ArenaMaxParameter = -8; // M_ARENA_MAX

    /// <summary>The arenas allowed.</summary>
    public const int Arenas = 2;

    private static readonly Lazy<string> Applied = new(Apply);

    private static readonly Lazy<bool> Glibc = new(() =>
    {
        if (!OperatingSystem.IsLinux()) return false;
        try { return GnuGetLibcVersion() != IntPtr.Zero; }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    });

    /// <summary>What was set, once per process before the first tensor: "arenas 2", or why nothing was.</summary>
    public static string Configure() => Applied.Value;

    /// <summary>The arenas' free pages given back to the system (glibc's malloc_trim); true where that is done.</summary>
    public static bool Trim() => Glibc.Value && MallocTrim(0) >= 0;

    private static string Apply()
    {
        if (!Glibc.Value) return "not glibc: left as it is";
        if (Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null) return "left to the environment";
        return Mallopt(ArenaMaxParameter, Arenas) == 1 ? $"arenas {Arenas}" : "refused by malloc";
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);

    [DllImport("libc", EntryPoint = "gnu_get_libc_version")]
    private static extern IntPtr GnuGetLibcVersion();
}
