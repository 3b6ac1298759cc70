namespace ExplainCluster.Engine.Storage;

public sealed class LocalBlob(string path) : IBlob
{
    public string Location { get; } = Path.GetFullPath(path);

    public Task<bool> ExistsAsync(CancellationToken ct = default) => Task.FromResult(File.Exists(Location));

    public Task<long> LengthAsync(CancellationToken ct = default) => Task.FromResult(new FileInfo(Location).Length);

    public Task<string> VersionAsync(CancellationToken ct = default) =>
        Task.FromResult(new FileInfo(Location) is var file ? $"{file.LastWriteTimeUtc.Ticks}:{file.Length}" : "");

    public async Task<byte[]> ReadRangeAsync(long offset, int count, CancellationToken ct = default)
    {
        var buffer = new byte[count];
        await ReadRangeAsync(offset, buffer, ct);
        return buffer;
    }

    public async Task ReadRangeAsync(long offset, Memory<byte> destination, CancellationToken ct = default)
    {
        using var handle = File.OpenHandle(Location, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        var read = 0;
        while (read < destination.Length)
        {
            var n = await RandomAccess.ReadAsync(handle, destination[read..], offset + read, ct);
            if (n == 0) throw new EndOfStreamException($"{Location} ends before byte {offset + destination.Length}");
            read += n;
        }
    }

    public Task<Stream> OpenReadAsync(CancellationToken ct = default) =>
        Task.FromResult<Stream>(new FileStream(Location, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true));

    public async Task WriteAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Location)!);
        // Write beside, then rename: a reader never sees half a file.
        var temp = Location + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
                await file.WriteAsync(content, ct);
            File.Move(temp, Location, overwrite: true);
        }
        catch
        {
            // Half a file on a full disk would keep it full: it goes, and the fault is the caller's to handle.
            File.Delete(temp);
            throw;
        }
    }

    public async Task<bool> CreateAsync(ReadOnlyMemory<byte> content, CancellationToken ct = default)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Location)!);
        // O_CREAT | O_EXCL: of two writers exactly one creates the file. (File.Move without overwrite checks,
        // then renames: two writers can both pass the check.) A reader may see it before it is whole.
        FileStream file;
        try { file = new FileStream(Location, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true); }
        catch (IOException) when (File.Exists(Location)) { return false; }
        try
        {
            await using (file) await file.WriteAsync(content, ct);
        }
        catch
        {
            // A half-written file would claim the location for a job that never started: it goes.
            File.Delete(Location);
            throw;
        }
        return true;
    }

    public Task<bool> MoveToAsync(IBlob destination, CancellationToken ct = default)
    {
        if (!File.Exists(Location)) return Task.FromResult(false);
        Directory.CreateDirectory(Path.GetDirectoryName(destination.Location)!);
        File.Move(Location, destination.Location, overwrite: true);
        return Task.FromResult(true);
    }

    /// <summary>
    /// Deletes the file, or the folder and everything under it: its files <see cref="Deleting"/> at a time, then its folders
    /// deepest first. An unlink waits on the disk as it frees the file's blocks (about 5 ms for a 20 KB file on a disk mounted
    /// with discard, as here), so a job's staging of 6,250 shards took 71 s one file at a time (docs/scale.md).
    /// </summary>
    public Task DeleteTreeAsync(CancellationToken ct = default)
    {
        if (File.Exists(Location)) File.Delete(Location);
        if (!Directory.Exists(Location)) return Task.CompletedTask;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Deleting, CancellationToken = ct };
        Parallel.ForEach(Directory.EnumerateFiles(Location, "*", SearchOption.AllDirectories), options, File.Delete);
        foreach (var depth in Directory.EnumerateDirectories(Location, "*", SearchOption.AllDirectories).GroupBy(Depth).OrderByDescending(d => d.Key))
            Parallel.ForEach(depth, options, folder => Directory.Delete(folder, recursive: true));
        Directory.Delete(Location, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>Files deleted at once by <see cref="DeleteTreeAsync"/>.</summary>
    public const int Deleting = 8;

    private static int Depth(string folder) => folder.Count(c => c == Path.DirectorySeparatorChar);

    public IBlob Child(string relativePath) => new LocalBlob(Path.Combine(Location, relativePath));
}
