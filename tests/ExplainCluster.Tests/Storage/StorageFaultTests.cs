using ExplainCluster.Engine;
using ExplainCluster.Engine.Storage;
using ExplainCluster.Tests.Infrastructure;

namespace ExplainCluster.Tests.Storage;

/// <summary>Which storage faults will not heal (no retry, one line naming the cause), as the kernel and the SDKs raise them.</summary>
public class StorageFaultTests
{
    public static TheoryData<Exception, string?> Faults => new()
    {
        { new IOException("No space left on device : '/x/a.npy'", 28), "no space left on device" },
        { new IOException("Read-only file system : '/x/a.npy'", 30), "read-only file system" },
        { new IOException("Permission denied : '/x/a.npy'", 13), "permission denied" },
        { new IOException("Disk quota exceeded : '/x/a.npy'", 122), "disk quota exceeded" },
        { new UnauthorizedAccessException("Access to the path '/x/a.npy' is denied."), "permission denied" },
        { new Azure.RequestFailedException(403, "This request is not authorized to perform this operation."), "permission denied" },
        // Faults that may heal keep their retries: an I/O error, a lost connection, a busy or unreachable store.
        { new IOException("Input/output error", 5), null },
        { new IOException("Connection reset by peer"), null },
        { new TimeoutException("timed out"), null },
        { new Azure.RequestFailedException(503, "Server busy"), null },
        { new Azure.RequestFailedException(0, "Connection refused"), null },
    };

    [Theory]
    [MemberData(nameof(Faults))]
    public void Cause_NamesOnlyTheFaultsThatWillNotHeal(Exception fault, string? cause) => Assert.Equal(cause, StorageFault.Cause(fault));

    [Fact]
    public async Task WritingAsync_PermanentFault_BecomesOneLineNamingTheOutput_OthersPassUnchanged()
    {
        var full = await Assert.ThrowsAsync<ExplainException>(() =>
            StorageFault.WritingAsync("/mnt/x", "writing shard 2", () => throw new IOException("No space left on device : '/mnt/x/_attempts/a.tmp'", 28)));
        Assert.Equal("output /mnt/x: no space left on device (writing shard 2)", full.Message);

        var transient = new IOException("Input/output error", 5);
        Assert.Same(transient, await Assert.ThrowsAsync<IOException>(() => StorageFault.WritingAsync("/mnt/x", "writing shard 2", () => throw transient)));
    }

    [SkippableFact]
    public async Task LocalBlob_OnAFullDisk_FaultIsNoSpace_AndLeavesNoHalfFile()
    {
        var (disk, why) = SmallDisk.Mount(1);
        Skip.If(disk is null, why);
        using (disk)
        {
            var blob = new LocalBlob(Path.Combine(disk!.Path, "part.npy"));
            var fault = await Assert.ThrowsAnyAsync<IOException>(() => blob.WriteAsync(new byte[2 << 20]));
            Assert.Equal("no space left on device", StorageFault.Cause(fault));
            var created = await Assert.ThrowsAnyAsync<IOException>(() => new LocalBlob(Path.Combine(disk.Path, "manifest.json")).CreateAsync(new byte[2 << 20]));
            Assert.Equal("no space left on device", StorageFault.Cause(created));
            // Neither the temporary file beside the part nor the manifest half written is left to keep the disk full.
            Assert.Empty(Directory.GetFileSystemEntries(disk.Path));
        }
    }
}
