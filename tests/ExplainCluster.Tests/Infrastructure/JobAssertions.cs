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

    public static JsonDocument ReadJson(string path) => JsonDocument.Parse(File.ReadAllBytes(path));

    /// <summary>summary.json without fields that legitimately differ between runs (none today: the whole file).</summary>
    public static string Summary(string output) => File.ReadAllText(Path.Combine(output, "summary.json"));
}
