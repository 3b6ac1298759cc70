using System.Runtime.InteropServices;
using ExplainCluster.Engine.Models;

namespace ExplainCluster.Tests.Engine;

/// <summary>glibc's malloc as a model host sets it before its first tensor, and trims it after each shard (docs/benchmarks.md).</summary>
[Collection(Cluster.ProcessCollection.Name)] // alone: the trim test reads the process's resident memory
public sealed class NativeHeapTests
{
    [Fact]
    public void Configure_OnGlibc_AllowsTwoArenasUnlessTheEnvironmentSaysOtherwise()
    {
        Assert.True(OperatingSystem.IsLinux(), "these tests run on Linux");
        // glibc's mallopt answers 1 for a parameter it took, once for the process (a model host calls it too).
        var expected = Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is null ? $"arenas {NativeHeap.Arenas}" : "left to the environment";
        Assert.Equal(expected, NativeHeap.Configure());
        Assert.Same(NativeHeap.Configure(), NativeHeap.Configure());
    }

    [Fact]
    public void Trim_AfterLargeBlocksAreFreed_GivesTheirPagesBack()
    {
        // As after a large tensor: a 4 MB block freed raises glibc's mmap threshold, so that the 1 MB blocks after it come from
        // the heap, not from mmaps of their own. 64 of them written (resident), each followed by a 200 KB block still in use, and
        // freed: holes the heap cannot give back by shrinking at its top. What is resident drops only when the free pages inside
        // the heap are handed back.
        Marshal.FreeHGlobal(Marshal.AllocHGlobal(4 << 20));
        var ones = new byte[1 << 20];
        Array.Fill(ones, (byte)1);
        var (blocks, pins) = (new IntPtr[64], new IntPtr[64]);
        for (var i = 0; i < blocks.Length; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(ones.Length);
            Marshal.Copy(ones, 0, blocks[i], ones.Length);
            pins[i] = Marshal.AllocHGlobal(200 << 10);
        }
        try
        {
            foreach (var b in blocks) Marshal.FreeHGlobal(b);
            var before = Resident();
            Assert.True(NativeHeap.Trim());
            var after = Resident();
            Assert.True(before - after > 32 << 20, $"resident {before >> 20} MB before the trim, {after >> 20} MB after");
        }
        finally
        {
            foreach (var p in pins) Marshal.FreeHGlobal(p);
        }
    }

    /// <summary>The process's resident anonymous memory, from /proc.</summary>
    private static long Resident() =>
        long.Parse(File.ReadLines("/proc/self/status").Single(l => l.StartsWith("RssAnon:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}
