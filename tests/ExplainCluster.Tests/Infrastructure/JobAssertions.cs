using System.Text.Json;
using ExplainCluster.Client;
using ExplainCluster.Contracts;
using ExplainCluster.Engine.Jobs;

namespace ExplainCluster.Tests.Infrastructure;

public static class Jobs
{
    public static async Task<JobStatus> RunAsync(IGrainFactory grains, string json, string folder)
    {
        var job = JobFile.Parse(json, folder);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        return await JobRunner.RunAsync(grains, job, ct: timeout.Token);
    }

    /// <summary>The same job on a one-silo cluster of its own: the fault-free, unsharded-silo reference for invariants.</summary>
    public static async Task<JobStatus> RunOnFreshSiloAsync(string json, string folder)
    {
        var one = new OneSiloCluster();
        await one.InitializeAsync();
        try
        {
            return await RunAsync(one.Grains, json, folder);
        }
        finally
        {
            await one.DisposeAsync();
        }
    }

    /// <summary>
    /// The same job on <paramref name="count"/> Fashion-MNIST samples twice: as one shard, and in shards of
    /// <paramref name="shardSize"/>; both must complete. <paramref name="job"/> makes the job file from
    /// (images, labels, output, shard size). Returns the two outputs.
    /// </summary>
    public static async Task<(string Single, string Sharded)> RunSingleAndShardedAsync(
        IGrainFactory grains, int count, int shardSize, Func<string, string, string, int, string> job)
    {
        var folder = TestPaths.NewFolder();
        var (images, labels) = await TestPaths.FashionMnistNpyAsync(folder, count);
        var (single, sharded) = (Path.Combine(folder, "single"), Path.Combine(folder, "sharded"));
        foreach (var (output, size) in new[] { (single, count), (sharded, shardSize) })
        {
            var status = await RunAsync(grains, job(images, labels, output, size), folder);
            Assert.True(status.State == JobState.Completed, $"{status.State}: {status.Error}");
        }
        return (single, sharded);
    }

    public static JsonDocument ReadJson(string path) => JsonDocument.Parse(File.ReadAllBytes(path));

    /// <summary>
    /// A job's summary as the invariant tests compare it: summary.json whole, then each .npy file beside it by
    /// name and SHA-256 (no field legitimately differs between runs).
    /// </summary>
    public static string Summary(string output)
    {
        var folder = Path.Combine(output, "summary");
        var arrays = Directory.Exists(folder) ? Directory.GetFiles(folder).Order(StringComparer.Ordinal) : Enumerable.Empty<string>();
        return SummaryDigest(File.ReadAllBytes(Path.Combine(output, "summary.json")),
            arrays.Select(f => (Path.GetFileName(f), File.ReadAllBytes(f))));
    }

    /// <summary><see cref="Summary(string)"/> of a job whose output is <paramref name="prefix"/> in a blob container.</summary>
    public static async Task<string> SummaryAsync(Azure.Storage.Blobs.BlobContainerClient container, string prefix)
    {
        async Task<byte[]> Download(string name) => (await container.GetBlobClient(name).DownloadContentAsync()).Value.Content.ToArray();
        var arrays = new List<(string, byte[])>();
        await foreach (var item in container.GetBlobsAsync(new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = $"{prefix}/summary/" }))
            arrays.Add((item.Name[(prefix.Length + "/summary/".Length)..], await Download(item.Name)));
        return SummaryDigest(await Download($"{prefix}/summary.json"), arrays.OrderBy(a => a.Item1, StringComparer.Ordinal));
    }

    private static string SummaryDigest(byte[] json, IEnumerable<(string Name, byte[] Bytes)> arrays) =>
        string.Join("\n", [System.Text.Encoding.UTF8.GetString(json),
            .. arrays.Select(a => $"{a.Name} {Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(a.Bytes))}")]);
}
